package ec2fake

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Instance is an instance as EC2 shows it at one time.
type Instance struct {
	ID                    string
	Type                  string
	Zone                  string
	SubnetID              string
	VPCID                 string
	PrivateIP             string
	Market                Market
	SpotRequestID         string // "" for on-demand
	FleetID               string
	LaunchTemplateID      string
	LaunchTemplateVersion int64
	HTTPTokens            string // from the launch template
	HopLimit              int32  // from the launch template
	Tags                  map[string]string
	VolumeTags            map[string]string // from the fleet's volume TagSpecification
	LaunchTime            time.Time
	// State is pending, running, shutting-down or terminated.
	State string
	// StateReason is ReasonUser or ReasonSpot once the instance stops;
	// StoppedAt is when it began to shut down. Both are zero before.
	StateReason string
	StoppedAt   time.Time
	NoticeAt    time.Time // the Spot interruption notice; zero: none
}

// instance is what the fake keeps of an instance; its state at a time is
// computed by view.
type instance struct {
	base        Instance // fixed at launch
	reservation string
	launchIndex int
	terminated  time.Time // when TerminateInstances asked; zero: never
	notice      time.Time // when Spot gave notice; zero: never
}

// stop returns when in began to stop and why, or the zero time if it has
// not been asked to: the earlier of a TerminateInstances and a Spot
// reclaim SpotNotice after the notice.
func (in *instance) stop() (time.Time, string) {
	at, why := in.terminated, ReasonUser
	if !in.notice.IsZero() {
		if r := in.notice.Add(SpotNotice); at.IsZero() || r.Before(at) {
			at, why = r, ReasonSpot
		}
	}
	return at, why
}

// stopping reports whether in is shutting down or terminated at now.
func (in *instance) stopping(now time.Time) bool {
	at, _ := in.stop()
	return !at.IsZero() && !now.Before(at)
}

// view returns in as it is at now. f.mu must be held.
func (f *Fake) view(in *instance, now time.Time) Instance {
	v := in.base
	v.Tags = maps.Clone(in.base.Tags)
	v.VolumeTags = maps.Clone(in.base.VolumeTags)
	v.NoticeAt = in.notice
	at, why := in.stop()
	switch {
	case !at.IsZero() && !now.Before(at.Add(f.cfg.ShutdownTime)):
		v.State = "terminated"
	case !at.IsZero() && !now.Before(at):
		v.State = "shutting-down"
	case now.Before(v.LaunchTime.Add(f.cfg.BootTime)):
		v.State = "pending"
	default:
		v.State = "running"
	}
	if !at.IsZero() && !now.Before(at) {
		v.StateReason, v.StoppedAt = why, at
	}
	return v
}

// live reports whether in holds capacity at now. f.mu must be held.
func (f *Fake) live(in *instance, now time.Time) bool {
	at, _ := in.stop()
	return at.IsZero() || now.Before(at.Add(f.cfg.ShutdownTime))
}

// prune forgets the instances terminated longer than the retention ago.
// f.mu must be held.
func (f *Fake) prune(now time.Time) {
	f.instances = slices.DeleteFunc(f.instances, func(in *instance) bool {
		at, _ := in.stop()
		gone := !at.IsZero() && !now.Before(at.Add(f.cfg.ShutdownTime+f.cfg.Retention))
		if gone {
			delete(f.byID, in.base.ID)
		}
		return gone
	})
}

// stateCodes are EC2's codes of the instance states.
var stateCodes = map[string]int32{
	"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80,
}

func stateOf(v Instance) stateXML { return stateXML{stateCodes[v.State], v.State} }

// instanceFilters are the filters of DescribeInstances the fake knows, but
// for the tag filters, each with what it compares.
var instanceFilters = map[string]func(v Instance) []string{
	"instance-id":              func(v Instance) []string { return []string{v.ID} },
	"instance-type":            func(v Instance) []string { return []string{v.Type} },
	"instance-state-name":      func(v Instance) []string { return []string{v.State} },
	"instance-state-code":      func(v Instance) []string { return []string{strconv.Itoa(int(stateCodes[v.State]))} },
	"instance-lifecycle":       func(v Instance) []string { return lifecycle(v) },
	"availability-zone":        func(v Instance) []string { return []string{v.Zone} },
	"subnet-id":                func(v Instance) []string { return []string{v.SubnetID} },
	"vpc-id":                   func(v Instance) []string { return []string{v.VPCID} },
	"private-ip-address":       func(v Instance) []string { return []string{v.PrivateIP} },
	"spot-instance-request-id": func(v Instance) []string { return []string{v.SpotRequestID} },
	"state-reason-code":        func(v Instance) []string { return []string{v.StateReason} },
}

// lifecycle is the instanceLifecycle EC2 reports: "spot" for Spot, none
// for on-demand.
func lifecycle(v Instance) []string {
	if v.Market == Spot {
		return []string{string(Spot)}
	}
	return nil
}

func knownInstanceFilter(name string) bool {
	return instanceFilters[name] != nil || name == "tag-key" || name == "tag-value" || strings.HasPrefix(name, "tag:")
}

type describeInstancesResponse struct {
	meta
	Reservations []reservationXML `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

type reservationXML struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Instances     []instanceXML `xml:"instancesSet>item"`
}

type instanceXML struct {
	InstanceID       string    `xml:"instanceId"`
	InstanceState    stateXML  `xml:"instanceState"`
	PrivateDNSName   string    `xml:"privateDnsName"`
	Reason           string    `xml:"reason"`
	AmiLaunchIndex   int       `xml:"amiLaunchIndex"`
	InstanceType     string    `xml:"instanceType"`
	LaunchTime       string    `xml:"launchTime"`
	Placement        placement `xml:"placement"`
	SubnetID         string    `xml:"subnetId"`
	VPCID            string    `xml:"vpcId"`
	PrivateIPAddress string    `xml:"privateIpAddress,omitempty"`
	StateReason      *struct {
		Code    string `xml:"code"`
		Message string `xml:"message"`
	} `xml:"stateReason,omitempty"`
	Architecture          string      `xml:"architecture"`
	InstanceLifecycle     string      `xml:"instanceLifecycle,omitempty"`
	SpotInstanceRequestID string      `xml:"spotInstanceRequestId,omitempty"`
	Tags                  []tagXML    `xml:"tagSet>item"`
	MetadataOptions       metadataXML `xml:"metadataOptions"`
}

type placement struct {
	AvailabilityZone string `xml:"availabilityZone"`
	Tenancy          string `xml:"tenancy"`
}

type metadataXML struct {
	State                string `xml:"state"`
	HTTPTokens           string `xml:"httpTokens"`
	HTTPPutHopLimit      int32  `xml:"httpPutResponseHopLimit"`
	HTTPEndpoint         string `xml:"httpEndpoint"`
	HTTPProtocolIPv6     string `xml:"httpProtocolIpv6"`
	InstanceMetadataTags string `xml:"instanceMetadataTags"`
}

// stateReasonMessages are EC2's messages of the state reasons.
var stateReasonMessages = map[string]string{
	ReasonUser: "Client.UserInitiatedShutdown: User initiated shutdown",
	ReasonSpot: "Server.SpotInstanceTermination: Spot instance termination",
}

func (f *Fake) instanceXML(in *instance, v Instance) instanceXML {
	x := instanceXML{
		InstanceID:            v.ID,
		InstanceState:         stateOf(v),
		AmiLaunchIndex:        in.launchIndex,
		InstanceType:          v.Type,
		LaunchTime:            formatTime(v.LaunchTime),
		Placement:             placement{v.Zone, "default"},
		SubnetID:              v.SubnetID,
		VPCID:                 v.VPCID,
		PrivateIPAddress:      v.PrivateIP,
		Architecture:          f.types[v.Type].Arch,
		SpotInstanceRequestID: v.SpotRequestID,
		Tags:                  tagsXML(v.Tags),
		MetadataOptions: metadataXML{
			State: "applied", HTTPTokens: v.HTTPTokens, HTTPPutHopLimit: v.HopLimit,
			HTTPEndpoint: "enabled", HTTPProtocolIPv6: "disabled", InstanceMetadataTags: "disabled",
		},
	}
	if v.State == "pending" {
		x.MetadataOptions.State = "pending"
	}
	if v.PrivateIP != "" {
		x.PrivateDNSName = "ip-" + strings.ReplaceAll(v.PrivateIP, ".", "-") + "." + f.cfg.Region + ".compute.internal"
	}
	if v.Market == Spot {
		x.InstanceLifecycle = string(Spot)
	}
	if v.StateReason != "" {
		x.StateReason = &struct {
			Code    string `xml:"code"`
			Message string `xml:"message"`
		}{v.StateReason, stateReasonMessages[v.StateReason]}
		who := "User"
		if v.StateReason == ReasonSpot {
			who = "Service"
		}
		x.Reason = who + " initiated (" + v.StoppedAt.UTC().Format("2006-01-02 15:04:05") + " GMT)"
	}
	return x
}

// instancesByID returns the instances ids names, in order and without
// repeats, or EC2's error for malformed or unknown ids. f.mu must be held.
func (f *Fake) instancesByID(ids []string) ([]*instance, error) {
	var out []*instance
	var unknown []string
	for _, id := range ids {
		if !validID(id, "i-") {
			return nil, badRequest("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
		in := f.byID[id]
		switch {
		case in == nil:
			unknown = append(unknown, id)
		case !slices.Contains(out, in):
			out = append(out, in)
		}
	}
	if len(unknown) > 0 {
		return nil, notFound("InvalidInstanceID.NotFound", "instance ID", unknown)
	}
	return out, nil
}

func (f *Fake) describeInstances(p params, now time.Time) (any, error) {
	filters, err := p.filters(knownInstanceFilter)
	if err != nil {
		return nil, err
	}
	ids := p.strings("InstanceId")
	if len(ids) > 0 && p.get("MaxResults") != "" {
		return nil, badRequest("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	pg, err := p.page(5, 1000, 0)
	if err != nil {
		return nil, err
	}
	list := f.instances
	if len(ids) > 0 {
		if list, err = f.instancesByID(ids); err != nil {
			return nil, err
		}
		slices.SortFunc(list, func(a, b *instance) int { return strings.Compare(a.base.ID, b.base.ID) })
	}
	var views []Instance
	for _, in := range list {
		v := f.view(in, now)
		if matchAll(filters, func(name string) []string { return instanceValues(v, name) }) {
			views = append(views, v)
		}
	}
	views, next := paginate(views, func(v Instance) string { return v.ID }, pg)
	resp := &describeInstancesResponse{NextToken: next}
	byRes := map[string]int{} // index in resp.Reservations
	for _, v := range views {
		in := f.byID[v.ID]
		i, ok := byRes[in.reservation]
		if !ok {
			i = len(resp.Reservations)
			byRes[in.reservation] = i
			resp.Reservations = append(resp.Reservations, reservationXML{ReservationID: in.reservation, OwnerID: f.cfg.AccountID})
		}
		resp.Reservations[i].Instances = append(resp.Reservations[i].Instances, f.instanceXML(in, v))
	}
	return resp, nil
}

// instanceValues returns what the filter name compares of v.
func instanceValues(v Instance, name string) []string {
	if get := instanceFilters[name]; get != nil {
		return get(v)
	}
	return tagValues(v.Tags, name)
}

type terminateInstancesResponse struct {
	meta
	Changes []stateChangeXML `xml:"instancesSet>item"`
}

type stateChangeXML struct {
	InstanceID string   `xml:"instanceId"`
	Current    stateXML `xml:"currentState"`
	Previous   stateXML `xml:"previousState"`
}

// terminateInstances terminates every instance named, or none if one of
// the ids is malformed or unknown, as EC2 does.
func (f *Fake) terminateInstances(p params, now time.Time) (any, error) {
	ids := p.strings("InstanceId")
	if len(ids) == 0 {
		return nil, missing("InstanceId")
	}
	list, err := f.instancesByID(ids)
	if err != nil {
		return nil, err
	}
	resp := &terminateInstancesResponse{}
	for _, in := range list {
		prev := f.view(in, now)
		if !in.stopping(now) {
			in.terminated = now
		}
		resp.Changes = append(resp.Changes, stateChangeXML{in.base.ID, stateOf(f.view(in, now)), stateOf(prev)})
	}
	return resp, nil
}
