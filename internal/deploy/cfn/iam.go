package cfn

// statement is one statement of an IAM policy that allows.
type statement struct {
	Sid       string
	Action    []string
	Resource  any // "*", or a list of ARNs
	Condition obj
}

func (s statement) value() obj {
	v := obj{"Sid": s.Sid, "Effect": "Allow", "Action": s.Action, "Resource": s.Resource}
	if s.Condition != nil {
		v["Condition"] = s.Condition
	}
	return v
}

// policy is an inline policy of a role.
func policy(name string, statements ...statement) obj {
	var st list
	for _, s := range statements {
		st = append(st, s.value())
	}
	return obj{"PolicyName": name, "PolicyDocument": obj{"Version": "2012-10-17", "Statement": st}}
}

// assumeRole is the trust policy of a role that service assumes.
func assumeRole(service string) obj {
	return obj{"Version": "2012-10-17", "Statement": list{obj{
		"Effect": "Allow", "Principal": obj{"Service": service}, "Action": "sts:AssumeRole",
	}}}
}

// ssmARN is the ARN of the SSM parameter at path (which starts with /).
func ssmARN(path string) obj { return arn("ssm", "parameter"+path) }
