package strict

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxYAMLNodes bounds the nodes a YAML document expands to through
// aliases.
const maxYAMLNodes = 1 << 20

// yamlToJSON converts one YAML document to JSON, for decoding into type t.
// A scalar that goes into a string field keeps the text it was written with;
// others keep YAML's types, except that timestamps and other tags stay
// strings.
func yamlToJSON(b []byte, t reflect.Type) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var n yaml.Node
	switch err := dec.Decode(&n); {
	case err == io.EOF:
		return nil, documentError("the document is empty")
	case err != nil:
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, documentError("more than one YAML document")
	}
	budget := maxYAMLNodes
	v, err := yamlValue(&n, t, &budget, 0)
	if err != nil {
		return nil, err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, documentError(fmt.Sprintf("malformed YAML: %v", err))
	}
	return j, nil
}

// yamlError words an error of the YAML parser: "malformed YAML: line 3:
// did not find expected key".
func yamlError(err error) error {
	return documentError("malformed YAML: " + strings.TrimPrefix(err.Error(), "yaml: "))
}

// yamlValue converts n, bound for type t (nil when unknown), to a value
// encoding/json can write.
// depth is how many mappings and sequences hold n.
func yamlValue(n *yaml.Node, t reflect.Type, budget *int, depth int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, documentError("malformed YAML: too many nodes after expanding aliases")
	}
	if (n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode) && depth >= MaxDepth {
		return nil, documentError(fmt.Sprintf("line %d: nests deeper than %d levels", n.Line, MaxDepth))
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0], t, budget, depth)
	case yaml.AliasNode:
		return yamlValue(n.Alias, t, budget, depth)
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, childType(t, ""), budget, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.MappingNode:
		return yamlMapping(n, t, budget, depth)
	}
	tag := n.ShortTag()
	if tag == "!!null" {
		return nil, nil
	}
	if t != nil && derefType(t).Kind() == reflect.String {
		return n.Value, nil
	}
	if tag == "!!bool" || tag == "!!int" || tag == "!!float" {
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, yamlError(err)
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, documentError(fmt.Sprintf("malformed YAML: line %d: %s is not a number JSON can hold", n.Line, n.Value))
		}
		return v, nil
	}
	return n.Value, nil
}

func yamlMapping(n *yaml.Node, t reflect.Type, budget *int, depth int) (any, error) {
	m := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			return nil, documentError(fmt.Sprintf("malformed YAML: line %d: keys must be plain names", k.Line))
		}
		if _, dup := m[k.Value]; dup {
			return nil, documentError(fmt.Sprintf("malformed YAML: line %d: key %q appears twice", k.Line, k.Value))
		}
		v, err := yamlValue(n.Content[i+1], childType(t, k.Value), budget, depth+1)
		if err != nil {
			return nil, err
		}
		m[k.Value] = v
	}
	return m, nil
}

// childType is the type of t's field key (for a struct), or of its elements
// (for a map or slice); nil when there is none or t decodes itself.
func childType(t reflect.Type, key string) reflect.Type {
	if t == nil {
		return nil
	}
	t = derefType(t)
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if ft, ok := fieldType(jsonFields(t), key); ok {
			return ft
		}
	case reflect.Map, reflect.Slice, reflect.Array:
		return t.Elem()
	}
	return nil
}
