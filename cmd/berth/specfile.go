package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// maxSpecFile bounds the size of a job or schedule file.
const maxSpecFile = 4 << 20

// readSpecFile reads a JSON or YAML file (path "-" is stdin) into v, a
// pointer to a spec struct. Fields v does not have are errors naming them.
func readSpecFile(env *cliEnv, path string, v any) error {
	var r io.Reader = env.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSpecFile+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxSpecFile {
		return fmt.Errorf("%s: larger than %d bytes", path, maxSpecFile)
	}
	if err := decodeSpec(b, v); err != nil {
		if path == "-" {
			path = "stdin"
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// decodeSpec decodes b, a JSON object or a YAML mapping, into v. YAML is converted to JSON first; the JSON is
// then checked against v's type for unknown fields and bad values, naming
// them by path ("retries.backoff"), and decoded with unknown fields
// disallowed.
func decodeSpec(b []byte, v any) error {
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))
	if len(b) == 0 {
		return errors.New("is empty")
	}
	doc := b
	if b[0] != '{' || !json.Valid(b) {
		y, err := yamlToJSON(b, reflect.TypeOf(v).Elem())
		switch {
		case err == nil:
			doc = y
		case b[0] != '{':
			return err
		}
		// else: broken JSON, or YAML in flow style ({image: busybox}) that
		// is broken too; the JSON error below is the likelier help.
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return jsonError(doc, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("holds more than one JSON value")
	}
	if _, ok := generic.(map[string]any); !ok {
		return fmt.Errorf("want an object of fields, not %s", jsonKind(generic))
	}
	if err := checkFields(generic, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	strict := json.NewDecoder(bytes.NewReader(doc))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return jsonError(doc, err)
	}
	return nil
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

// checkFields reports the first field of v (a decoded JSON value) that type t
// has no place for or that holds the wrong kind of value, naming it by its
// path. Values of types with their own JSON decoding (berth.Duration,
// time.Time) are decoded to check them.
func checkFields(v any, t reflect.Type, path string) error {
	t = derefType(t)
	if v == nil {
		return nil // null leaves a field unset
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return checkUnmarshal(v, t, path)
	}
	wrong := fmt.Errorf("%s: want %s, not %s", path, kindName(t), jsonKind(v))
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			return wrong
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return wrong
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return checkNumber(v, t, path, wrong)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return wrong
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fieldType(fields, k)
			if !ok {
				return fmt.Errorf("unknown field %q", joinPath(path, k))
			}
			if err := checkFields(m[k], ft, joinPath(path, k)); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return wrong
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := checkFields(m[k], t.Elem(), joinPath(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		s, ok := v.([]any)
		if !ok {
			return wrong
		}
		for i, e := range s {
			if err := checkFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkUnmarshal decodes v with t's own JSON decoder.
func checkUnmarshal(v any, t reflect.Type, path string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
		if t == timeType {
			return fmt.Errorf("%s: %s is not an RFC 3339 time such as 2026-05-01T02:00:00Z", path, b)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// checkNumber checks that v is a number that fits t.
func checkNumber(v any, t reflect.Type, path string, wrong error) error {
	n, ok := v.(json.Number)
	if !ok {
		return wrong
	}
	var err error
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		_, err = strconv.ParseFloat(string(n), t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		_, err = strconv.ParseUint(string(n), 10, t.Bits())
	default:
		_, err = strconv.ParseInt(string(n), 10, t.Bits())
	}
	if err != nil {
		return fmt.Errorf("%s: want %s, not %s", path, kindName(t), n)
	}
	return nil
}

// jsonFields maps the JSON names of t's fields to their types, with the
// fields of embedded structs promoted as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || (!f.IsExported() && !f.Anonymous):
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			for k, v := range jsonFields(f.Type) {
				if _, ok := fields[k]; !ok {
					fields[k] = v
				}
			}
			continue
		case name == "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// fieldType finds key among fields, preferring an exact match and falling
// back to a case-insensitive one, as encoding/json does.
func fieldType(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t, ok := fields[key]; ok {
		return t, true
	}
	for name, t := range fields {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonError rewords the errors of encoding/json for someone editing a file.
func jsonError(doc []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		line := 1 + bytes.Count(doc[:min(int(syntax.Offset), len(doc))], []byte("\n"))
		return fmt.Errorf("line %d: %v", line, syntax)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("%s: want %s, not a %s", typ.Field, kindName(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("ends early: the JSON is incomplete")
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: ")) // unknown fields, which checkFields names first
}

// kindName names what a Go type takes in JSON.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "an object"
	}
}

// jsonKind names the kind of a decoded JSON value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "an object"
}

// maxYAMLNodes bounds the nodes a YAML file expands to through aliases.
const maxYAMLNodes = 100_000

// yamlToJSON converts one YAML document to JSON, for decoding into type t.
// A scalar that goes into a string field keeps the text it was written with
// (so that `command: [true]` and `version: 1.10` stay strings); others keep
// YAML's types. Scalars YAML calls timestamps stay strings too.
func yamlToJSON(b []byte, t reflect.Type) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, errors.New("holds more than one YAML document")
	}
	budget := maxYAMLNodes
	v, err := yamlValue(&n, t, &budget)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// yamlValue converts n, bound for type t (nil when unknown), to a value
// encoding/json can write.
func yamlValue(n *yaml.Node, t reflect.Type, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, errors.New("yaml: too many nodes after expanding aliases")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0], t, budget)
	case yaml.AliasNode:
		return yamlValue(n.Alias, t, budget)
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, childType(t, ""), budget)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.MappingNode:
		return yamlMapping(n, t, budget)
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
			return nil, err
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, fmt.Errorf("yaml: line %d: %s is not a number JSON can hold", n.Line, n.Value)
		}
		return v, nil
	}
	return n.Value, nil
}

func yamlMapping(n *yaml.Node, t reflect.Type, budget *int) (any, error) {
	m := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			return nil, fmt.Errorf("yaml: line %d: keys must be plain names", k.Line)
		}
		if _, dup := m[k.Value]; dup {
			return nil, fmt.Errorf("yaml: line %d: key %q appears twice", k.Line, k.Value)
		}
		v, err := yamlValue(n.Content[i+1], childType(t, k.Value), budget)
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

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
