package strict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// jsonError words an error of encoding/json for the person who wrote the
// document.
func jsonError(doc []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		line := 1 + bytes.Count(doc[:min(int(syntax.Offset), len(doc))], []byte("\n"))
		return documentError(fmt.Sprintf("malformed JSON at line %d: %v", line, syntax))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return documentError("malformed JSON: it ends early")
	case errors.As(err, &typ) && typ.Field != "":
		return fieldError(typ.Field, "want %s, not %s", kindName(typ.Type), typ.Value)
	}
	// What check lets through and encoding/json refuses: unexpected, but
	// still the document's fault.
	return documentError(strings.TrimPrefix(err.Error(), "json: "))
}

// kindName names what a Go type takes in JSON: "a whole number", "a list of
// strings".
func kindName(t reflect.Type) string {
	t = derefType(t)
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
		if e := plural(t.Elem()); e != "" {
			return "a list of " + e
		}
		return "a list"
	}
	return "an object"
}

// plural names the values of a list's elements of type t, or "" when that
// says nothing useful.
func plural(t reflect.Type) string {
	switch derefType(t).Kind() {
	case reflect.String:
		return "strings"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole numbers"
	case reflect.Float32, reflect.Float64:
		return "numbers"
	case reflect.Struct, reflect.Map:
		return "objects"
	}
	return ""
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
