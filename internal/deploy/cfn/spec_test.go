package cfn

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The CloudFormation resource specification, from the npm package
// @aws-cdk/aws-service-spec: BERTH_CFN_SPEC is its folder (the one with
// db.json.gz). Without it the test is skipped, unless
// BERTH_REQUIRE_CFN_SPEC=1 (as .ci/run sets): then it fails.
//
//	npm install --prefix /tmp/cfnspec @aws-cdk/aws-service-spec@0.1.216
//	BERTH_CFN_SPEC=/tmp/cfnspec/node_modules/@aws-cdk/aws-service-spec go test ./internal/deploy/cfn

// specType is a property's type in the database.
type specType struct {
	Type      string     `json:"type"`
	Element   *specType  `json:"element"`
	Types     []specType `json:"types"`
	Reference *struct {
		Ref string `json:"$ref"`
	} `json:"reference"`
}

type specProp struct {
	Type     specType `json:"type"`
	Required bool     `json:"required"`
}

type specEntity struct {
	ID         string              `json:"$id"`
	CFNType    string              `json:"cloudFormationType"`
	Name       string              `json:"name"`
	Properties map[string]specProp `json:"properties"`
	Attributes map[string]any      `json:"attributes"`
}

// spec is the part of the database the checks read.
type spec struct {
	resources map[string]*specEntity // by CloudFormation type
	types     map[string]*specEntity // type definitions by $id
}

var loadSpecOnce = sync.OnceValues(func() (*spec, error) {
	dir := os.Getenv("BERTH_CFN_SPEC")
	if dir == "" {
		return nil, nil
	}
	f, err := os.Open(filepath.Join(dir, "db.json.gz"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var db struct {
		Schema struct {
			Resource       struct{ Entities []*specEntity } `json:"resource"`
			TypeDefinition struct{ Entities []*specEntity } `json:"typeDefinition"`
		} `json:"schema"`
	}
	if err := json.NewDecoder(zr).Decode(&db); err != nil {
		return nil, fmt.Errorf("decode %s: %w", f.Name(), err)
	}
	s := &spec{resources: map[string]*specEntity{}, types: map[string]*specEntity{}}
	for _, e := range db.Schema.Resource.Entities {
		s.resources[e.CFNType] = e
	}
	for _, e := range db.Schema.TypeDefinition.Entities {
		s.types[e.ID] = e
	}
	if len(s.resources) < 1000 || s.resources["AWS::SQS::Queue"] == nil {
		return nil, fmt.Errorf("%s: %d resource types, no AWS::SQS::Queue: not the resource specification", f.Name(), len(s.resources))
	}
	return s, nil
})

func loadSpec(t *testing.T) *spec {
	t.Helper()
	s, err := loadSpecOnce()
	switch {
	case err != nil:
		t.Fatalf("the CloudFormation specification: %v", err)
	case s == nil && os.Getenv("BERTH_REQUIRE_CFN_SPEC") == "1":
		t.Fatal("BERTH_CFN_SPEC is not set, and BERTH_REQUIRE_CFN_SPEC=1: install @aws-cdk/aws-service-spec with npm and point BERTH_CFN_SPEC at it")
	case s == nil:
		t.Skip("BERTH_CFN_SPEC is not set: the templates are not checked against the CloudFormation specification")
	}
	return s
}

// everyTemplate is every kind of template berth produces: the shipped
// examples and the variations of the options.
func everyTemplate(t *testing.T) map[string]*Template {
	t.Helper()
	all := exampleTemplates(t)
	for name, file := range map[string]string{
		"fargate-only with intake": "aws: {intake: true, log_retention_days: 7}\npools: [{name: tasks, provider: fargate, task_role: 'arn:aws:iam::123456789012:role/jobs'}]",
		"own subnets":              "aws: {vpc: vpc-0a1b2c3d, subnets: [subnet-0a1b2c3d, subnet-1a1b2c3d], port: 8443}\npools: [{name: big-spot, provider: ec2, market: spot, max: 3, subnets: [subnet-2a1b2c3d], instance_types: [{name: r7i.4xlarge}]}]",
	} {
		f, err := Parse([]byte(file), "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tp, err := Build(f, Options{Stack: "test", RetainData: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all[name] = tp
	}
	return all
}

// generic returns v as encoding/json reads it: maps, slices, float64.
func generic(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSpec: every template berth produces holds to the CloudFormation
// resource specification: every resource type exists, every property
// exists at its level, required properties are there, values have their
// types, and every Ref, GetAtt and Fn::Sub names a parameter, resource or
// attribute that exists.
func TestSpec(t *testing.T) {
	s := loadSpec(t)
	for name, tp := range everyTemplate(t) {
		c := &checker{spec: s, tmpl: generic(t, tp)}
		c.check()
		sort.Strings(c.problems)
		for _, p := range c.problems {
			t.Errorf("%s: %s", name, p)
		}
	}
}

type checker struct {
	spec     *spec
	tmpl     map[string]any
	problems []string
}

func (c *checker) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) resources() map[string]any { m, _ := c.tmpl["Resources"].(map[string]any); return m }
func (c *checker) parameters() map[string]any {
	m, _ := c.tmpl["Parameters"].(map[string]any)
	return m
}

func (c *checker) check() {
	for id, r := range c.resources() {
		res := r.(map[string]any)
		typ, _ := res["Type"].(string)
		e := c.spec.resources[typ]
		if e == nil {
			c.errorf("%s: no resource type %q", id, typ)
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		c.object(id+".Properties", props, e.Properties)
		for _, d := range asList(res["DependsOn"]) {
			if _, ok := c.resources()[d.(string)]; !ok {
				c.errorf("%s.DependsOn: no resource %q", id, d)
			}
		}
	}
	for id, o := range asMap(c.tmpl["Outputs"]) {
		c.intrinsics(id, asMap(o)["Value"], nil)
	}
}

// object checks the properties of an object against its definition.
func (c *checker) object(path string, v map[string]any, def map[string]specProp) {
	for name, p := range def {
		if _, ok := v[name]; p.Required && !ok {
			c.errorf("%s: the required property %s is missing", path, name)
		}
	}
	for name, val := range v {
		p, ok := def[name]
		if !ok {
			c.errorf("%s: no property %q", path, name)
			continue
		}
		c.value(path+"."+name, val, p.Type)
	}
}

// value checks v against t.
func (c *checker) value(path string, v any, t specType) {
	if c.isIntrinsic(v) {
		c.intrinsics(path, v, nil)
		return
	}
	switch t.Type {
	case "string", "date-time":
		if _, ok := v.(string); !ok {
			c.errorf("%s: %v is not a string", path, v)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			c.errorf("%s: %v is not an integer", path, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			c.errorf("%s: %v is not a number", path, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			c.errorf("%s: %v is not a boolean", path, v)
		}
	case "json":
		c.intrinsics(path, v, nil)
	case "tag":
		m, ok := v.(map[string]any)
		if !ok || len(m) != 2 || m["Key"] == nil || m["Value"] == nil {
			c.errorf("%s: %v is not a tag {Key, Value}", path, v)
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			c.errorf("%s: %v is not a list", path, v)
			return
		}
		for i, e := range l {
			c.value(fmt.Sprintf("%s[%d]", path, i), e, *t.Element)
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			c.errorf("%s: %v is not a map", path, v)
			return
		}
		for k, e := range m {
			c.value(path+"."+k, e, *t.Element)
		}
	case "ref":
		def := c.spec.types[t.Reference.Ref]
		m, ok := v.(map[string]any)
		if def == nil || !ok {
			c.errorf("%s: %v is not an object of type %s", path, v, t.Reference.Ref)
			return
		}
		c.object(path, m, def.Properties)
	case "union":
		for _, alt := range t.Types {
			sub := &checker{spec: c.spec, tmpl: c.tmpl}
			sub.value(path, v, alt)
			if len(sub.problems) == 0 {
				return
			}
		}
		c.errorf("%s: %v is none of the types it may be", path, v)
	default:
		c.errorf("%s: the specification's type %q is unknown to this test", path, t.Type)
	}
}

// isIntrinsic reports whether v is {"Ref": ...} or {"Fn::...": ...}.
func (c *checker) isIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// intrinsics checks every Ref, GetAtt and Fn::Sub in v. vars are the
// variables of an enclosing Fn::Sub.
func (c *checker) intrinsics(path string, v any, vars map[string]any) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			c.intrinsics(path, e, vars)
		}
	case map[string]any:
		if r, ok := v["Ref"].(string); ok && len(v) == 1 {
			c.name(path, r, vars)
			return
		}
		if g, ok := v["Fn::GetAtt"].([]any); ok && len(v) == 1 {
			if len(g) != 2 {
				c.errorf("%s: Fn::GetAtt %v: want [resource, attribute]", path, g)
				return
			}
			c.attribute(path, g[0].(string), g[1].(string))
			return
		}
		if s, ok := v["Fn::Sub"]; ok && len(v) == 1 {
			c.sub(path, s)
			return
		}
		for _, e := range v {
			c.intrinsics(path, e, vars)
		}
	}
}

// name checks a Ref: a parameter, a resource or a pseudo parameter.
func (c *checker) name(path, n string, vars map[string]any) {
	if _, ok := vars[n]; ok {
		return
	}
	if _, ok := c.parameters()[n]; ok {
		return
	}
	if _, ok := c.resources()[n]; ok {
		return
	}
	if slices.Contains([]string{"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName", "AWS::StackId", "AWS::URLSuffix", "AWS::NoValue"}, n) {
		return
	}
	c.errorf("%s: Ref %q names no parameter, resource or pseudo parameter", path, n)
}

// attribute checks a GetAtt: the resource exists and its type has the
// attribute.
func (c *checker) attribute(path, resource, attr string) {
	r, ok := c.resources()[resource].(map[string]any)
	if !ok {
		c.errorf("%s: Fn::GetAtt names no resource %q", path, resource)
		return
	}
	e := c.spec.resources[r["Type"].(string)]
	if e == nil {
		return // reported with the resource
	}
	if _, ok := e.Attributes[attr]; !ok {
		c.errorf("%s: %s (%s) has no attribute %q", path, resource, e.CFNType, attr)
	}
}

// sub checks an Fn::Sub: each ${X} or ${X.Y} names a variable, a
// parameter, a resource or its attribute.
func (c *checker) sub(path string, v any) {
	var s string
	vars := map[string]any{}
	switch v := v.(type) {
	case string:
		s = v
	case []any:
		if len(v) != 2 {
			c.errorf("%s: Fn::Sub %v: want [string, variables]", path, v)
			return
		}
		s, _ = v[0].(string)
		vars, _ = v[1].(map[string]any)
		for k, e := range vars {
			c.intrinsics(path+".Fn::Sub."+k, e, nil)
		}
	}
	for rest := s; ; {
		i := strings.Index(rest, "${")
		if i < 0 {
			return
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			c.errorf("%s: Fn::Sub has an unclosed ${", path)
			return
		}
		n := rest[i+2 : i+end]
		rest = rest[i+end:]
		switch res, attr, dotted := strings.Cut(n, "."); {
		case strings.HasPrefix(n, "!"):
		case dotted && !strings.HasPrefix(n, "AWS::"):
			c.attribute(path, res, attr)
		default:
			c.name(path, n, vars)
		}
	}
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asList(v any) []any         { l, _ := v.([]any); return l }

// TestSpecCatches: the checks find planted faults, so that a pass means
// something.
func TestSpecCatches(t *testing.T) {
	s := loadSpec(t)
	tp := exampleTemplates(t)["minimal.yaml"]
	g := generic(t, tp)
	res := g["Resources"].(map[string]any)
	res["Bogus"] = map[string]any{"Type": "AWS::EC2::Nothing"}
	res["Queue2"] = map[string]any{"Type": "AWS::SQS::Queue", "Properties": map[string]any{
		"VisibilityTimeout": "thirty", "Colour": "red", "Tags": []any{map[string]any{"Key": "a"}},
		"QueueName": map[string]any{"Fn::GetAtt": []any{"InterruptionQueue", "Nope"}},
	}}
	res["Alarm2"] = map[string]any{"Type": "AWS::CloudWatch::Alarm", "Properties": map[string]any{
		"ComparisonOperator": "LessThanThreshold", "EvaluationPeriods": 1.5,
		"AlarmDescription": map[string]any{"Fn::Sub": "${Missing} ${ServerGroup.Nope} ${AWS::Region} ${!Literal}"},
		"Namespace":        map[string]any{"Ref": "NoSuchParameter"},
	}}
	c := &checker{spec: s, tmpl: g}
	c.check()
	all := strings.Join(c.problems, "\n")
	for _, want := range []string{
		`no resource type "AWS::EC2::Nothing"`, `VisibilityTimeout: thirty is not an integer`, `no property "Colour"`,
		`is not a tag`, `has no attribute "Nope"`, `EvaluationPeriods: 1.5 is not an integer`, `Ref "Missing"`,
		`Ref "NoSuchParameter"`, `(AWS::AutoScaling::AutoScalingGroup) has no attribute "Nope"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the checks missed %s; they found:\n%s", want, all)
		}
	}
	if strings.Contains(all, "Literal") || strings.Contains(all, "AWS::Region") {
		t.Errorf("the checks refused ${!Literal} or ${AWS::Region}:\n%s", all)
	}
}
