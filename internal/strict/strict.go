// Package strict decodes JSON and YAML documents into Go structs, refusing
// fields the struct has no place for, values of the wrong kind, keys
// given twice in one object and objects or arrays nested deeper than
// MaxDepth (checked first, before anything is built). Every problem with the document is a *berth.FieldError naming the field at
// fault by its path ("retries.backoff", "pools[1].instance_types[0].cpu"),
// or no field when the document as a whole is at fault (malformed, empty,
// not an object). A type that must see which fields the document gave
// checks that as a Checker.
//
// The HTTP API reads request bodies with DecodeJSON; job and schedule files
// (berth submit -f), berth.yaml and simulation scenarios are read with
// Decode, which takes YAML as well.
package strict

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	berth "github.com/berth-run/berth"
)

// DecodeJSON decodes b, one JSON object, into the struct v points to.
func DecodeJSON(b []byte, v any) error {
	t, err := target(v)
	if err != nil {
		return err
	}
	return decodeJSON(bytes.TrimSpace(b), v, t)
}

// Decode decodes b, a JSON object or a YAML mapping, into the struct v
// points to. A document that is valid JSON is read as JSON. YAML scalars
// bound for string fields keep the text they were written with, so that
// `command: [true]` and `version: 1.10` stay strings.
func Decode(b []byte, v any) error {
	t, err := target(v)
	if err != nil {
		return err
	}
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))
	if len(b) == 0 || json.Valid(b) {
		return decodeJSON(b, v, t)
	}
	doc, err := yamlToJSON(b, t)
	if err != nil {
		if b[0] == '{' || b[0] == '[' {
			// Broken JSON, or YAML in flow style ({image: busybox}) that
			// is broken too: the JSON error is the likelier help.
			return decodeJSON(b, v, t)
		}
		return err
	}
	return decodeJSON(doc, v, t)
}

// Checker is implemented by types that check what decoding them cannot
// show: which fields the document gave, say, where a field given as 0 and
// one left out decode alike but mean different things. Once a document
// has decoded into a Checker, DecodeJSON and Decode call CheckJSON with
// it, as JSON (a YAML document converted).
type Checker interface {
	CheckJSON(doc []byte) error
}

// target checks that v is a non-nil pointer and returns the type it points
// to.
func target(v any) (reflect.Type, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("strict: decode into %T, want a non-nil pointer", v)
	}
	return rv.Type().Elem(), nil
}

// decodeJSON decodes doc, one JSON object, into v of type *t. Most
// documents are right: they take one strict decoding. A document that
// fails it is read again generically and checked value by value against t,
// so that the first problem is named by its path.
func decodeJSON(doc []byte, v any, t reflect.Type) error {
	if len(doc) == 0 {
		return documentError("the document is empty")
	}
	if err := checkShape(doc); err != nil {
		return err
	}
	if doc[0] != '{' && derefType(t).Kind() == reflect.Struct {
		return explain(doc, t, nil) // null would decode to nothing
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return explain(doc, t, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return documentError("more than one JSON value")
	}
	if c, ok := v.(Checker); ok {
		return c.CheckJSON(doc)
	}
	return nil
}

// explain finds what is wrong with doc, which decoding into t refused with
// err.
func explain(doc []byte, t reflect.Type, err error) error {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return jsonError(doc, err)
	}
	if _, ok := generic.(map[string]any); !ok && derefType(t).Kind() == reflect.Struct {
		return documentError(fmt.Sprintf("want an object of fields, not %s", jsonKind(generic)))
	}
	if err := check(generic, t, ""); err != nil {
		return err
	}
	if err == nil {
		return nil
	}
	return jsonError(doc, err)
}

// documentError is a problem with the document as a whole: a
// *berth.FieldError with no field.
func documentError(problem string) error { return &berth.FieldError{Problem: problem} }
