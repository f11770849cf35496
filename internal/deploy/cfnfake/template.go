package cfnfake

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxBody is the largest TemplateBody CloudFormation takes in a request;
// a larger template must be uploaded to S3 and named by TemplateURL.
const maxBody = 51200

// template is a parsed template, as far as the fake needs it.
type template struct {
	body        string
	description string
	params      map[string]paramDef
	resources   map[string]resourceDef
	outputs     map[string]outputDef
	order       []string // resources in an order that honours their dependencies
}

type paramDef struct {
	hasDefault bool
	def        string
}

type resourceDef struct {
	typ    string
	retain bool   // DeletionPolicy Retain
	raw    string // the resource as canonical JSON, to compare
	name   string // a name property's value, which is then its physical id
	named  bool   // it is an IAM resource with a name of its own
}

type outputDef struct {
	description string
	value       any
}

// nameProps are the properties that name a resource of the type.
var nameProps = map[string]string{
	"AWS::DynamoDB::Table": "TableName", "AWS::ECS::Cluster": "ClusterName", "AWS::Logs::LogGroup": "LogGroupName",
	"AWS::EC2::LaunchTemplate": "LaunchTemplateName", "AWS::SQS::Queue": "QueueName",
	"AWS::IAM::Role": "RoleName", "AWS::IAM::InstanceProfile": "InstanceProfileName", "AWS::IAM::User": "UserName",
	"AWS::IAM::Group": "GroupName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
}

var pseudo = []string{"AWS::AccountId", "AWS::NoValue", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix", "AWS::NotificationARNs"}

// parseTemplate reads a JSON or YAML template (intrinsic functions in
// their long form), and checks what CloudFormation checks before it
// makes a change set.
func parseTemplate(body string) (*template, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil || doc == nil {
		return nil, validation("Template format error: JSON not well-formed.")
	}
	t := &template{body: body, params: map[string]paramDef{}, resources: map[string]resourceDef{}, outputs: map[string]outputDef{}}
	t.description, _ = doc["Description"].(string)
	params, _ := doc["Parameters"].(map[string]any)
	for k, v := range params {
		m, _ := v.(map[string]any)
		if _, ok := m["Type"].(string); !ok {
			return nil, validation("Template format error: Every Parameters object must contain a Type member.")
		}
		d, ok := m["Default"]
		t.params[k] = paramDef{hasDefault: ok, def: fmt.Sprint(d)}
	}
	res, _ := doc["Resources"].(map[string]any)
	if len(res) == 0 {
		return nil, validation("Template format error: At least one Resources member must be defined.")
	}
	deps := map[string][]string{}
	for id, v := range res {
		m, _ := v.(map[string]any)
		typ, _ := m["Type"].(string)
		if typ == "" {
			return nil, validation("Template format error: [/Resources/%s] Every Resources object must contain a Type member.", id)
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, validation("Template format error: %v", err)
		}
		r := resourceDef{typ: typ, retain: m["DeletionPolicy"] == "Retain", raw: string(raw)}
		props, _ := m["Properties"].(map[string]any)
		if p := nameProps[typ]; p != "" {
			r.name, _ = props[p].(string)
			r.named = strings.HasPrefix(typ, "AWS::IAM::") && props[p] != nil
		}
		t.resources[id] = r
		deps[id] = refs(m, nil)
	}
	outs, _ := doc["Outputs"].(map[string]any)
	for k, v := range outs {
		m, _ := v.(map[string]any)
		d, _ := m["Description"].(string)
		t.outputs[k] = outputDef{description: d, value: m["Value"]}
		for _, r := range refs(m["Value"], nil) {
			if _, ok := t.resources[r]; !ok && !t.known(r) {
				return nil, validation("Template format error: Unresolved resource dependencies [%s] in the Outputs block of the template", r)
			}
		}
	}
	var unresolved []string
	for id, ds := range deps {
		var res []string
		for _, d := range ds {
			if _, ok := t.resources[d]; ok {
				res = append(res, d)
			} else if !t.known(d) {
				unresolved = append(unresolved, d)
			}
		}
		deps[id] = res
	}
	if len(unresolved) > 0 {
		slices.Sort(unresolved)
		return nil, validation("Template format error: Unresolved resource dependencies [%s] in the Resources block of the template", strings.Join(slices.Compact(unresolved), ", "))
	}
	order, err := topo(deps)
	if err != nil {
		return nil, err
	}
	t.order = order
	return t, nil
}

// known reports whether name is a parameter or a pseudo parameter.
func (t *template) known(name string) bool {
	_, ok := t.params[name]
	return ok || slices.Contains(pseudo, name)
}

// subVar is a variable of an Fn::Sub string: ${Name} or ${Name.Attr}, but
// not the literal ${!Name}.
var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// refs appends to out what v refers to: Ref, Fn::GetAtt, the variables of
// Fn::Sub (less its own), and DependsOn.
func refs(v any, out []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch k {
			case "Ref":
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			case "Fn::GetAtt":
				switch a := x.(type) {
				case []any:
					if len(a) > 0 {
						out = append(out, fmt.Sprint(a[0]))
					}
				case string:
					r, _, _ := strings.Cut(a, ".")
					out = append(out, r)
				}
			case "Fn::Sub":
				s, vars := subParts(x)
				for _, m := range subVar.FindAllStringSubmatch(s, -1) {
					name, _, _ := strings.Cut(m[1], ".")
					if strings.HasPrefix(m[1], "AWS::") {
						name = m[1]
					}
					if _, own := vars[name]; !own {
						out = append(out, name)
					}
				}
				for _, x := range vars {
					out = refs(x, out)
				}
				continue
			case "DependsOn":
				switch d := x.(type) {
				case string:
					out = append(out, d)
				case []any:
					for _, e := range d {
						out = append(out, fmt.Sprint(e))
					}
				}
				continue
			}
			out = refs(x, out)
		}
	case []any:
		for _, x := range v {
			out = refs(x, out)
		}
	}
	return out
}

// subParts returns the string and the variables of an Fn::Sub.
func subParts(x any) (string, map[string]any) {
	switch x := x.(type) {
	case string:
		return x, nil
	case []any:
		if len(x) == 2 {
			s, _ := x[0].(string)
			vars, _ := x[1].(map[string]any)
			return s, vars
		}
	}
	return "", nil
}

// topo orders the resources so that each comes after what it depends on,
// alphabetically where the order is free.
func topo(deps map[string][]string) ([]string, error) {
	done := map[string]bool{}
	var order []string
	for len(order) < len(deps) {
		var ready []string
		for id, ds := range deps {
			if done[id] {
				continue
			}
			ok := true
			for _, d := range ds {
				ok = ok && done[d]
			}
			if ok {
				ready = append(ready, id)
			}
		}
		if len(ready) == 0 {
			var left []string
			for id := range deps {
				if !done[id] {
					left = append(left, id)
				}
			}
			sort.Strings(left)
			return nil, validation("Circular dependency between resources: [%s]", strings.Join(left, ", "))
		}
		sort.Strings(ready)
		order = append(order, ready[0])
		done[ready[0]] = true
	}
	return order, nil
}

// iamCapability returns the capability the template needs: "" for none,
// CAPABILITY_IAM for IAM resources, CAPABILITY_NAMED_IAM for named ones.
func (t *template) iamCapability() string {
	need := ""
	for _, r := range t.resources {
		switch {
		case r.named:
			return "CAPABILITY_NAMED_IAM"
		case strings.HasPrefix(r.typ, "AWS::IAM::"):
			need = "CAPABILITY_IAM"
		}
	}
	return need
}
