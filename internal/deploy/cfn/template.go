package cfn

import (
	"bytes"
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// Template is a CloudFormation template as Go values. Maps render with
// their keys sorted, so one configuration always gives the same bytes.
type Template struct {
	FormatVersion string               `json:"AWSTemplateFormatVersion"`
	Description   string               `json:"Description"`
	Parameters    map[string]Parameter `json:"Parameters,omitempty"`
	Resources     map[string]Resource  `json:"Resources"`
	Outputs       map[string]Output    `json:"Outputs,omitempty"`
}

// Parameter is a value the stack is given when it is created.
type Parameter struct {
	Type           string   `json:"Type"`
	Description    string   `json:"Description"`
	Default        any      `json:"Default,omitempty"`
	MinLength      int      `json:"MinLength,omitempty"`
	AllowedValues  []string `json:"AllowedValues,omitempty"`
	AllowedPattern string   `json:"AllowedPattern,omitempty"`
}

// Resource is one resource of the stack.
type Resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties,omitempty"`
	DependsOn      []string       `json:"DependsOn,omitempty"`
	DeletionPolicy string         `json:"DeletionPolicy,omitempty"`
	// UpdateReplacePolicy follows DeletionPolicy where it is set.
	UpdateReplacePolicy string `json:"UpdateReplacePolicy,omitempty"`
}

// Output is a value the stack shows once created.
type Output struct {
	Description string `json:"Description"`
	Value       any    `json:"Value"`
}

// obj is a JSON object of a template.
type obj = map[string]any

// list is a JSON array of a template.
type list = []any

// ref is {"Ref": name}: a parameter's value or a resource's id.
func ref(name string) obj { return obj{"Ref": name} }

// getAtt is {"Fn::GetAtt": [resource, attribute]}.
func getAtt(resource, attribute string) obj {
	return obj{"Fn::GetAtt": list{resource, attribute}}
}

// sub is {"Fn::Sub": s}, or with variables {"Fn::Sub": [s, vars]}.
func sub(s string, vars obj) obj {
	if len(vars) == 0 {
		return obj{"Fn::Sub": s}
	}
	return obj{"Fn::Sub": list{s, vars}}
}

// join is {"Fn::Join": [sep, values]}.
func join(sep string, values any) obj { return obj{"Fn::Join": list{sep, values}} }

// JSON renders the template as indented JSON.
func (t *Template) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(t); err != nil {
		return nil, fmt.Errorf("render template: %w", err)
	}
	return b.Bytes(), nil
}

// YAML renders the template as YAML, with the intrinsic functions in
// their long form ("Fn::Sub:") and the keys in the order of JSON.
func (t *Template) YAML() ([]byte, error) {
	j, err := t.JSON()
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, fmt.Errorf("render template: %w", err)
	}
	plain(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("render template: %w", err)
	}
	return b.Bytes(), nil
}

// plain drops the JSON styles of n's nodes: YAML quotes a string only
// where it must, and writes scripts as literal blocks.
func plain(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && bytes.ContainsRune([]byte(n.Value), '\n') {
		n.Style = yaml.LiteralStyle
	}
	for _, c := range n.Content {
		plain(c)
	}
}
