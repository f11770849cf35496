package cfn

import (
	"bytes"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/deploy/userdata"
)

// Logical ids of a pool's resources.
func poolID(p berth.PoolSpec, kind string) string { return "Pool" + logicalPart(p.Name) + kind }

// SSM parameters the control plane publishes for the agents.
func (b *builder) serverURLParameter() string { return "/berth/" + b.stack + "/server-url" }
func (b *builder) caParameter() string        { return "/berth/" + b.stack + "/ca.pem" }

// prepareWorker are the boot script's first steps on the stack's image:
// Amazon Linux 2023 has the AWS CLI and curl, not Docker.
const prepareWorker = `command -v docker >/dev/null || { dnf install -y -q docker && systemctl enable --now docker; }`

// ec2Pool makes an ec2 pool's role, instance profile and launch template.
// The role may read the pool's join token and the server's address and
// CA, nothing else.
func (b *builder) ec2Pool(p berth.PoolSpec) {
	param := userdata.ParameterName(b.stack, p.Name)
	b.add(poolID(p, "Role"), Resource{Type: "AWS::IAM::Role", Properties: obj{
		"Description":              "berth " + b.stack + " pool " + p.Name + ": the instances' own role",
		"AssumeRolePolicyDocument": assumeRole("ec2.amazonaws.com"),
		"Policies": list{policy("join", statement{
			Sid:      "ReadOwnJoinToken",
			Action:   []string{"ssm:GetParameter"},
			Resource: list{ssmARN(param), ssmARN(b.serverURLParameter()), ssmARN(b.caParameter())},
		})},
		"Tags": b.tags(b.stack + "-" + p.Name),
	}})
	b.add(poolID(p, "InstanceProfile"), Resource{Type: "AWS::IAM::InstanceProfile", Properties: obj{
		"Roles": list{ref(poolID(p, "Role"))},
	}})
	var script bytes.Buffer
	if err := userdata.Write(&script, userdata.Agent{
		ServerParameter:   b.serverURLParameter(),
		CAParameter:       b.caParameter(),
		Pool:              p.Name,
		Cluster:           b.stack,
		Parameter:         param,
		OrphanAfter:       "15m",
		InterruptionGrace: berth.ShortDuration(time.Duration(p.InterruptionGrace)),
		Prepare:           prepareWorker,
	}); err != nil {
		panic(err) // the script's template is fixed, its values checked
	}
	b.add(poolID(p, "LaunchTemplate"), Resource{Type: "AWS::EC2::LaunchTemplate", Properties: obj{
		"LaunchTemplateName": b.stack + "-" + p.Name,
		"LaunchTemplateData": obj{
			"ImageId":                           ref("ImageId"),
			"IamInstanceProfile":                obj{"Arn": getAtt(poolID(p, "InstanceProfile"), "Arn")},
			"InstanceInitiatedShutdownBehavior": "terminate",
			"MetadataOptions":                   metadataOptions(),
			"NetworkInterfaces": list{obj{
				"DeviceIndex":              0,
				"AssociatePublicIpAddress": ref("PublicIp"),
				"Groups":                   list{getAtt("AgentSecurityGroup", "GroupId")},
			}},
			"BlockDeviceMappings": rootVolume(30),
			"UserData":            obj{"Fn::Base64": script.String()},
		},
		"TagSpecifications": list{obj{"ResourceType": "launch-template", "Tags": b.tags(b.stack + "-" + p.Name)}},
	}})
}

// metadataOptions require IMDSv2 with a hop limit of 1: a container
// cannot reach the instance's credentials.
func metadataOptions() obj {
	return obj{"HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": 1}
}

// rootVolume is an encrypted gp3 root volume of gib GiB, deleted with the
// instance.
func rootVolume(gib int) list {
	return list{obj{"DeviceName": "/dev/xvda", "Ebs": obj{
		"VolumeSize": gib, "VolumeType": "gp3", "Encrypted": true, "DeleteOnTermination": true,
	}}}
}

// logGroupName is the log group of the Fargate tasks.
func (b *builder) logGroupName() string { return "/berth/" + b.stack + "/jobs" }

// fargate makes the ECS cluster with its capacity providers, the tasks'
// execution role and their log group.
func (b *builder) fargate() {
	b.add("EcsCluster", Resource{Type: "AWS::ECS::Cluster", Properties: obj{
		"ClusterName":       b.stack,
		"CapacityProviders": list{"FARGATE", "FARGATE_SPOT"},
		"DefaultCapacityProviderStrategy": list{
			obj{"CapacityProvider": "FARGATE", "Weight": 1},
		},
		"ClusterSettings": list{obj{"Name": "containerInsights", "Value": "disabled"}},
		"Tags":            b.tags(b.stack),
	}})
	b.add("TaskLogGroup", Resource{Type: "AWS::Logs::LogGroup", Properties: obj{
		"LogGroupName":    b.logGroupName(),
		"RetentionInDays": b.f.AWS.LogRetentionDays,
		"Tags":            b.tags(b.logGroupName()),
	}})
	b.add("TaskExecutionRole", Resource{Type: "AWS::IAM::Role", Properties: obj{
		"Description":              "berth " + b.stack + ": ECS pulls the tasks' images and writes their logs with it",
		"AssumeRolePolicyDocument": assumeRole("ecs-tasks.amazonaws.com"),
		"Policies": list{policy("execution",
			statement{
				Sid:      "PullImages",
				Action:   []string{"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"},
				Resource: "*",
			},
			statement{
				Sid:      "WriteTaskLogs",
				Action:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
				Resource: list{sub("${TaskLogGroup.Arn}", nil)},
			})},
		"Tags": b.tags(b.stack + "-task-execution"),
	}})
	b.output("EcsCluster", "the ECS cluster of the fargate pools", ref("EcsCluster"))
}

// taskRoles are the task roles the fargate pools name: the server may
// pass them.
func (b *builder) taskRoles() []string {
	var roles []string
	for _, p := range b.f.Pools {
		if p.TaskRole != "" && !strings.Contains(strings.Join(roles, " "), p.TaskRole) {
			roles = append(roles, p.TaskRole)
		}
	}
	return roles
}
