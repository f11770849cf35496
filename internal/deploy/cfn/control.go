package cfn

import (
	"encoding/json"
	"fmt"
	"strings"

	berth "github.com/berth-run/berth"
)

// controlPlane makes the server's role, instance profile, launch template
// and its Auto Scaling group of one, which replaces the instance if it
// dies.
func (b *builder) controlPlane() {
	b.add("ServerRole", Resource{Type: "AWS::IAM::Role", Properties: obj{
		"Description":              "berth " + b.stack + " control plane",
		"AssumeRolePolicyDocument": assumeRole("ec2.amazonaws.com"),
		"Policies":                 list{policy("server", b.serverStatements()...)},
		"Tags":                     b.tags(b.stack + "-server"),
	}})
	b.add("ServerInstanceProfile", Resource{Type: "AWS::IAM::InstanceProfile", Properties: obj{
		"Roles": list{ref("ServerRole")},
	}})
	b.add("ServerLaunchTemplate", Resource{Type: "AWS::EC2::LaunchTemplate", Properties: obj{
		"LaunchTemplateName": b.stack + "-server",
		"LaunchTemplateData": obj{
			"ImageId":            ref("ImageId"),
			"InstanceType":       ref("ServerInstanceType"),
			"IamInstanceProfile": obj{"Arn": getAtt("ServerInstanceProfile", "Arn")},
			"MetadataOptions":    metadataOptions(),
			"NetworkInterfaces": list{obj{
				"DeviceIndex":              0,
				"AssociatePublicIpAddress": ref("PublicIp"),
				"Groups":                   list{getAtt("ServerSecurityGroup", "GroupId")},
			}},
			"BlockDeviceMappings": rootVolume(serverVolumeGiB),
			"UserData":            obj{"Fn::Base64": b.serverScript()},
			"TagSpecifications": list{
				obj{"ResourceType": "instance", "Tags": b.tags(b.stack + "-server")},
				obj{"ResourceType": "volume", "Tags": b.tags(b.stack + "-server")},
			},
		},
	}})
	b.add("ServerGroup", Resource{Type: "AWS::AutoScaling::AutoScalingGroup", Properties: obj{
		"MinSize":           "1",
		"MaxSize":           "1",
		"DesiredCapacity":   "1",
		"VPCZoneIdentifier": ref("Subnets"),
		"LaunchTemplate":    obj{"LaunchTemplateId": ref("ServerLaunchTemplate"), "Version": getAtt("ServerLaunchTemplate", "LatestVersionNumber")},
		"HealthCheckType":   "EC2",
		"Tags":              list{obj{"Key": "Name", "Value": b.stack + "-server", "PropagateAtLaunch": true}},
	}})
	b.output("ServerGroup", "the control plane's Auto Scaling group", ref("ServerGroup"))
	b.output("ServerUrlParameter", "SSM parameter with the server's URL", b.serverURLParameter())
	b.output("AdminTokenParameter", "SSM parameter (SecureString) with the admin token", b.adminTokenParameter())
	b.output("Store", "the server's --store", sub("dynamodb://"+b.tablePrefix()+"?region=${AWS::Region}", nil))
}

// serverVolumeGiB is the control plane's root volume: the image, berth
// and its logs; the state is in DynamoDB.
const serverVolumeGiB = 8

func (b *builder) adminTokenParameter() string { return "/berth/" + b.stack + "/admin-token" }

// serverScript is the control plane's user data (an Fn::Sub): it installs
// berth, makes or reuses the cluster's CA (kept in SSM, so a replaced
// instance keeps it), issues the server's certificate, writes the pools'
// configuration, runs berth server under systemd, and publishes in SSM
// its URL, CA, admin token and the ec2 pools' join tokens. Its shell
// uses no ${...} of its own: Fn::Sub owns that syntax.
func (b *builder) serverScript() obj {
	port := fmt.Sprint(b.f.AWS.Port)
	flags := []string{
		"--config /etc/berth/berth.json", "--data /var/lib/berth", "--cluster " + b.stack,
		"--listen 0.0.0.0:" + port, "--advertise-url https://$IP:" + port,
		"--tls-cert /etc/berth/server.pem", "--tls-key /etc/berth/server.key", "--local-agent=false",
		"--store 'dynamodb://" + b.tablePrefix() + "?region=$REGION'",
		"--cloudwatch-namespace " + b.f.AWS.Namespace,
	}
	vars := obj{}
	if b.has(berth.ProviderEC2) {
		flags = append(flags, "--interruption-queue ${InterruptionQueue}")
	}
	if b.f.AWS.Intake {
		flags = append(flags, "--sqs-intake ${IntakeQueue}")
	}
	var tokens []string
	for _, p := range b.f.Pools {
		if p.Provider == berth.ProviderEC2 {
			tokens = append(tokens, p.Name)
		}
	}
	config, configVars := b.serverConfig()
	for k, v := range configVars {
		vars[k] = v
	}
	s := strings.NewReplacer(
		"@STACK@", b.stack, "@PORT@", port, "@FLAGS@", strings.Join(flags, " "),
		"@CONFIG@", config, "@POOLS@", strings.Join(tokens, " "),
	).Replace(serverScript)
	return sub(s, vars)
}

// serverConfig is the pools' configuration for the server, as JSON with
// the stack's resources as Fn::Sub variables, and those variables.
func (b *builder) serverConfig() (string, obj) {
	vars := obj{}
	pools := make([]berth.PoolSpec, len(b.f.Pools))
	for i, p := range b.f.Pools {
		p.InstanceTypes = append([]berth.InstanceType(nil), p.InstanceTypes...)
		if p.Region == "" {
			p.Region = "@AWS::Region@"
		}
		if !b.f.ownSubnets[i] {
			p.Subnets = []string{"@Subnets@"}
			vars["Subnets"] = join(`","`, ref("Subnets"))
		}
		switch p.Provider {
		case berth.ProviderEC2:
			p.LaunchTemplate = "@" + poolID(p, "LaunchTemplate") + "@"
		case berth.ProviderFargate:
			p.Cluster = "@EcsCluster@"
			p.ExecutionRole = "@TaskExecutionRole.Arn@"
			p.LogGroup = "@TaskLogGroup@"
			p.SecurityGroups = append(p.SecurityGroups, "@TaskSecurityGroup.GroupId@")
		}
		pools[i] = p
	}
	j, err := json.MarshalIndent(struct {
		Pools []berth.PoolSpec `json:"pools"`
	}{pools}, "", "  ")
	if err != nil {
		panic(err) // pools always marshal
	}
	s := strings.ReplaceAll(string(j), "${", "${!")
	s = placeholderRe.ReplaceAllString(s, "$${$1}")
	return s, vars
}

// serverStatements are the control plane's permissions: each write
// scoped to the stack's resources or, where AWS has no resource for it,
// to the cluster's tag.
func (b *builder) serverStatements() []statement {
	ec2 := func(kind string) obj { return arn("ec2", kind+"/*") }
	cluster := obj{"StringEquals": obj{"aws:RequestTag/berth.cluster": b.stack}}
	var launchTemplates list
	var passRoles list
	for _, p := range b.f.Pools {
		if p.Provider == berth.ProviderEC2 {
			launchTemplates = append(launchTemplates, sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:launch-template/${"+poolID(p, "LaunchTemplate")+"}", nil))
			passRoles = append(passRoles, getAtt(poolID(p, "Role"), "Arn"))
		}
	}
	st := []statement{{
		Sid:      "ReadEC2",
		Action:   []string{"ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeImages", "pricing:GetProducts"},
		Resource: "*",
	}, {
		Sid:       "PublishMetrics",
		Action:    []string{"cloudwatch:PutMetricData"},
		Resource:  "*",
		Condition: obj{"StringEquals": obj{"cloudwatch:namespace": b.f.AWS.Namespace}},
	}, {
		Sid:      "Store",
		Action:   []string{"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"},
		Resource: b.tableARNs(),
	}, {
		Sid:      "Parameters",
		Action:   []string{"ssm:GetParameter", "ssm:PutParameter"},
		Resource: list{arn("ssm", "parameter/berth/"+b.stack+"/*")},
	}}
	if len(launchTemplates) > 0 {
		st = append(st, statement{
			Sid:       "LaunchTaggedInstances",
			Action:    []string{"ec2:CreateFleet", "ec2:RunInstances"},
			Resource:  list{ec2("instance"), ec2("volume"), ec2("network-interface"), ec2("fleet"), ec2("spot-instances-request")},
			Condition: cluster,
		}, statement{
			Sid:      "LaunchFromStackTemplates",
			Action:   []string{"ec2:CreateFleet", "ec2:RunInstances"},
			Resource: launchTemplates,
		}, statement{
			Sid:       "LaunchInStackNetwork",
			Action:    []string{"ec2:CreateFleet", "ec2:RunInstances"},
			Resource:  list{ec2("subnet"), ec2("security-group")},
			Condition: obj{"ArnEquals": obj{"ec2:Vpc": arn("ec2", "vpc/${VpcId}")}},
		}, statement{
			Sid:      "LaunchImages",
			Action:   []string{"ec2:CreateFleet", "ec2:RunInstances"},
			Resource: list{sub("arn:${AWS::Partition}:ec2:${AWS::Region}::image/*", nil)},
		}, statement{
			Sid:       "TagAtLaunch",
			Action:    []string{"ec2:CreateTags"},
			Resource:  list{ec2("instance"), ec2("volume"), ec2("network-interface"), ec2("fleet"), ec2("spot-instances-request")},
			Condition: obj{"StringEquals": obj{"ec2:CreateAction": list{"CreateFleet", "RunInstances"}}},
		}, statement{
			Sid:       "TerminateClusterInstances",
			Action:    []string{"ec2:TerminateInstances"},
			Resource:  list{ec2("instance")},
			Condition: obj{"StringEquals": obj{"aws:ResourceTag/berth.cluster": b.stack}},
		}, statement{
			Sid:      "ReadQueues",
			Action:   []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"},
			Resource: b.queueARNs(),
		})
	} else if b.f.AWS.Intake {
		st = append(st, statement{
			Sid:      "ReadQueues",
			Action:   []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"},
			Resource: b.queueARNs(),
		})
	}
	if b.has(berth.ProviderFargate) {
		onCluster := obj{"ArnEquals": obj{"ecs:cluster": getAtt("EcsCluster", "Arn")}}
		passRoles = append(passRoles, getAtt("TaskExecutionRole", "Arn"))
		for _, r := range b.taskRoles() {
			passRoles = append(passRoles, r)
		}
		st = append(st, statement{
			Sid:       "RunTasksOnCluster",
			Action:    []string{"ecs:RunTask"},
			Resource:  list{arn("ecs", "task-definition/berth-*:*")},
			Condition: onCluster,
		}, statement{
			Sid:      "ManageClusterTasks",
			Action:   []string{"ecs:StopTask", "ecs:DescribeTasks", "ecs:TagResource"},
			Resource: list{arn("ecs", "task/${EcsCluster}/*"), arn("ecs", "task-definition/berth-*:*")},
		}, statement{
			Sid:       "ListClusterTasks",
			Action:    []string{"ecs:ListTasks", "ecs:DescribeClusters"},
			Resource:  "*",
			Condition: onCluster,
		}, statement{
			// RegisterTaskDefinition has no resource to scope it to.
			Sid:      "TaskDefinitions",
			Action:   []string{"ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"},
			Resource: "*",
		}, statement{
			Sid:      "TaskLogs",
			Action:   []string{"logs:GetLogEvents", "logs:CreateLogGroup"},
			Resource: list{getAtt("TaskLogGroup", "Arn"), sub("${TaskLogGroup.Arn}:log-stream:*", nil)},
		}, statement{
			Sid:      "FindLogGroups",
			Action:   []string{"logs:DescribeLogGroups"},
			Resource: "*",
		})
	}
	if len(passRoles) > 0 {
		st = append(st, statement{
			Sid:      "PassWorkerRoles",
			Action:   []string{"iam:PassRole"},
			Resource: passRoles,
		})
	}
	return st
}
