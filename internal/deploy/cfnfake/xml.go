package cfnfake

// The shapes of the answers, as the query protocol writes them.

type paramXML struct {
	ParameterKey   string `xml:"ParameterKey"`
	ParameterValue string `xml:"ParameterValue"`
}

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func tagsXML(tags [][2]string) []tagXML {
	var out []tagXML
	for _, t := range tags {
		out = append(out, tagXML{t[0], t[1]})
	}
	return out
}

type outputXML struct {
	OutputKey   string `xml:"OutputKey"`
	OutputValue string `xml:"OutputValue"`
	Description string `xml:"Description,omitempty"`
}

type stackXML struct {
	StackID           string      `xml:"StackId"`
	StackName         string      `xml:"StackName"`
	Description       string      `xml:"Description,omitempty"`
	Parameters        []paramXML  `xml:"Parameters>member"`
	CreationTime      string      `xml:"CreationTime"`
	LastUpdatedTime   string      `xml:"LastUpdatedTime,omitempty"`
	StackStatus       string      `xml:"StackStatus"`
	StackStatusReason string      `xml:"StackStatusReason,omitempty"`
	Capabilities      []string    `xml:"Capabilities>member"`
	Outputs           []outputXML `xml:"Outputs>member"`
	Tags              []tagXML    `xml:"Tags>member"`
}

type eventXML struct {
	StackID              string `xml:"StackId"`
	EventID              string `xml:"EventId"`
	StackName            string `xml:"StackName"`
	LogicalResourceID    string `xml:"LogicalResourceId"`
	PhysicalResourceID   string `xml:"PhysicalResourceId"`
	ResourceType         string `xml:"ResourceType"`
	Timestamp            string `xml:"Timestamp"`
	ResourceStatus       string `xml:"ResourceStatus"`
	ResourceStatusReason string `xml:"ResourceStatusReason,omitempty"`
}

type changeXML struct {
	Type           string `xml:"Type"`
	ResourceChange struct {
		Action             string `xml:"Action"`
		LogicalResourceID  string `xml:"LogicalResourceId"`
		PhysicalResourceID string `xml:"PhysicalResourceId,omitempty"`
		ResourceType       string `xml:"ResourceType"`
	} `xml:"ResourceChange"`
}

type changeSetXML struct {
	ChangeSetID     string      `xml:"ChangeSetId"`
	ChangeSetName   string      `xml:"ChangeSetName"`
	StackID         string      `xml:"StackId"`
	StackName       string      `xml:"StackName"`
	Status          string      `xml:"Status"`
	StatusReason    string      `xml:"StatusReason,omitempty"`
	ExecutionStatus string      `xml:"ExecutionStatus"`
	CreationTime    string      `xml:"CreationTime"`
	Parameters      []paramXML  `xml:"Parameters>member"`
	Capabilities    []string    `xml:"Capabilities>member"`
	Tags            []tagXML    `xml:"Tags>member"`
	Changes         []changeXML `xml:"Changes>member"`
}
