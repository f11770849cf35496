package strict

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
)

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

// check reports the first value in v (decoded JSON, numbers as
// json.Number) that type t has no place for, as a *berth.FieldError naming
// it by its path. Fields are looked at in name order, so the same document
// always gives the same error. Values of types that decode themselves
// (berth.Duration, time.Time) are decoded to check them; null leaves a
// field unset and is always allowed.
func check(v any, t reflect.Type, path string) error {
	t = derefType(t)
	if v == nil {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return checkUnmarshal(v, t, path)
	}
	wrong := fieldError(path, "want %s, not %s", kindName(t), jsonKind(v))
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
				return fieldError(joinPath(path, k), "unknown field")
			}
			if err := check(m[k], ft, joinPath(path, k)); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return wrong
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := check(m[k], t.Elem(), joinPath(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		s, ok := v.([]any)
		if !ok {
			return wrong
		}
		if t.Kind() == reflect.Array && len(s) > t.Len() {
			return fieldError(path, "want at most %d items, not %d", t.Len(), len(s))
		}
		for i, e := range s {
			if err := check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkUnmarshal decodes v with t's own JSON decoding.
func checkUnmarshal(v any, t reflect.Type, path string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fieldError(path, "%v", err)
	}
	if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
		if t == timeType {
			return fieldError(path, "%s is not an RFC 3339 time such as 2026-05-01T02:00:00Z", b)
		}
		return fieldError(path, "%s", strings.TrimPrefix(err.Error(), "json: "))
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
		return fieldError(path, "want %s, not %s", kindName(t), n)
	}
	return nil
}

func fieldError(path, format string, args ...any) error {
	return &berth.FieldError{Field: path, Problem: fmt.Sprintf(format, args...)}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the JSON names of t's fields to their types, with the
// fields of embedded structs promoted as encoding/json promotes them: a
// field of the outer struct wins over one of the same name inside.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	var promoted []map[string]reflect.Type
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || (!f.IsExported() && !f.Anonymous):
			continue
		case f.Anonymous && name == "" && derefType(f.Type).Kind() == reflect.Struct:
			promoted = append(promoted, jsonFields(derefType(f.Type)))
			continue
		case !f.IsExported():
			continue // an embedded non-struct of an unexported type
		case name == "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	for _, p := range promoted {
		for k, ft := range p {
			if _, ok := fields[k]; !ok {
				fields[k] = ft
			}
		}
	}
	return fields
}

// fieldType finds key among fields, preferring an exact match and falling
// back to one that differs in case only, as encoding/json does.
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

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
