package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	berth "github.com/berth-run/berth"
)

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func reflectType(v any) reflect.Type { return reflect.TypeOf(v).Elem() }

// check reports the first value in v (decoded JSON, numbers as json.Number)
// that type t has no place for, as a *berth.FieldError naming its path.
func check(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		b, _ := json.Marshal(v)
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
			return fieldError(path, err.Error())
		}
		return nil
	}
	wrong := fieldError(path, fmt.Sprintf("want %s, not %s", kindName(t), jsonKind(v)))
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			return wrong
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return wrong
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := v.(json.Number)
		if !ok {
			return wrong
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			return fieldError(path, fmt.Sprintf("want an integer, not %s", n))
		}
	case reflect.Float64, reflect.Float32:
		if _, ok := v.(json.Number); !ok {
			return wrong
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return wrong
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fields[k]
			if !ok {
				return fieldError(join(path, k), "unknown field")
			}
			if err := check(m[k], ft, join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return wrong
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := check(m[k], t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return wrong
		}
		for i, e := range s {
			if err := check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldError(path, problem string) error {
	return &berth.FieldError{Field: path, Problem: problem}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the JSON names of t's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type)
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			maps.Copy(m, jsonFields(f.Type))
			continue
		case name == "":
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice:
		return "a list"
	}
	return t.Kind().String()
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return string(v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return "null"
}
