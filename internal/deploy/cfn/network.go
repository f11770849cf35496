package cfn

import berth "github.com/berth-run/berth"

// network makes the security groups: agents may reach the server's port,
// and nothing may reach anything else. Outbound traffic is open: the
// hosts reach AWS's APIs and image registries.
func (b *builder) network() {
	b.add("AgentSecurityGroup", Resource{Type: "AWS::EC2::SecurityGroup", Properties: obj{
		"GroupDescription": "berth " + b.stack + " agents: no inbound traffic",
		"VpcId":            ref("VpcId"),
		"Tags":             b.tags(b.stack + "-agents"),
	}})
	b.add("ServerSecurityGroup", Resource{Type: "AWS::EC2::SecurityGroup", Properties: obj{
		"GroupDescription": "berth " + b.stack + " control plane: the API from the agents only",
		"VpcId":            ref("VpcId"),
		"SecurityGroupIngress": list{obj{
			"Description":           "berth agents to the API",
			"IpProtocol":            "tcp",
			"FromPort":              b.f.AWS.Port,
			"ToPort":                b.f.AWS.Port,
			"SourceSecurityGroupId": getAtt("AgentSecurityGroup", "GroupId"),
		}},
		"Tags": b.tags(b.stack + "-server"),
	}})
	if b.has(berth.ProviderFargate) {
		b.add("TaskSecurityGroup", Resource{Type: "AWS::EC2::SecurityGroup", Properties: obj{
			"GroupDescription": "berth " + b.stack + " Fargate tasks: no inbound traffic",
			"VpcId":            ref("VpcId"),
			"Tags":             b.tags(b.stack + "-tasks"),
		}})
	}
}
