package berth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// DecodeStrict decodes one JSON object from data into the struct v points
// to, refusing unknown fields and trailing data. Every error is a
// *FieldError naming the field at fault in its JSON path ("retries.backoff"),
// or the empty field for a malformed document.
func DecodeStrict(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return errors.New("DecodeStrict needs a pointer to a struct")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return &FieldError{Problem: "malformed JSON: " + syntaxProblem(err)}
	}
	if dec.More() {
		return &FieldError{Problem: "malformed JSON: more than one value in the body"}
	}
	if _, err := dec.Token(); err == nil {
		return &FieldError{Problem: "malformed JSON: trailing data after the object"}
	}
	return decodeObject(raw, rv.Elem(), "")
}

func syntaxProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	if errors.Is(err, io.EOF) {
		return "empty body"
	}
	return err.Error()
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	rawType      = reflect.TypeFor[json.RawMessage]()
	durationType = reflect.TypeFor[Duration]()
)

// decodeObject decodes the JSON object raw into the struct rv, field by
// field, so that each error names its field.
func decodeObject(raw json.RawMessage, rv reflect.Value, path string) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return &FieldError{Field: strings.TrimSuffix(path, "."), Problem: "must be a JSON object"}
	}
	fields := jsonFields(rv.Type())
	for key, val := range obj {
		idx, ok := fields[key]
		if !ok {
			return &FieldError{Field: path + key, Problem: "unknown field"}
		}
		f := rv.FieldByIndex(idx)
		if err := decodeValue(val, f, path+key); err != nil {
			return err
		}
	}
	return nil
}

func decodeValue(val json.RawMessage, f reflect.Value, field string) error {
	t := f.Type()
	if t.Kind() == reflect.Struct && t != timeType && t != durationType && !bytes.Equal(bytes.TrimSpace(val), []byte("null")) {
		return decodeObject(val, f, field+".")
	}
	if err := json.Unmarshal(val, f.Addr().Interface()); err != nil {
		return &FieldError{Field: field, Problem: valueProblem(err, t)}
	}
	return nil
}

func valueProblem(err error, t reflect.Type) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("want %s, got %s", typeName(t), te.Value)
	}
	if t == timeType || (t.Kind() == reflect.Pointer && t.Elem() == timeType) {
		return "want an RFC 3339 time such as 2026-01-02T15:04:05Z"
	}
	return err.Error()
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		if t == rawType {
			return "JSON"
		}
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Map:
		return "an object of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "a "), "an ") + "s"
	}
	return "a " + t.Kind().String()
}

// jsonFields maps the JSON names of t's fields, through embedded structs, to
// their index paths.
func jsonFields(t reflect.Type) map[string][]int {
	m := make(map[string][]int)
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" || !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			for k, idx := range jsonFields(sf.Type) {
				m[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = sf.Name
		}
		m[name] = []int{i}
	}
	return m
}
