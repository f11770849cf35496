package httpapi

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

type openapiSchema struct {
	Properties map[string]json.RawMessage `json:"properties"`
	AllOf      []struct {
		Ref string `json:"$ref"`
	} `json:"allOf"`
}

type openapiDocument struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]openapiSchema `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openapiDocument {
	t.Helper()
	var doc openapiDocument
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIRoutes checks that the document describes exactly the routes
// the server serves.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented, served []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, r := range (&Server{}).routes() {
		served = append(served, r.method+" "+r.pattern)
	}
	sort.Strings(documented)
	sort.Strings(served)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("openapi.json paths differ from the served routes (-served +documented):\n%s", diff)
	}
}

// TestOpenAPISchemas checks that each schema lists exactly the JSON fields
// of its Go type.
func TestOpenAPISchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	types := map[string]reflect.Type{
		"JobSpec":      reflect.TypeFor[berth.JobSpec](),
		"RetryPolicy":  reflect.TypeFor[berth.RetryPolicy](),
		"Job":          reflect.TypeFor[berth.Job](),
		"Attempt":      reflect.TypeFor[berth.Attempt](),
		"ScheduleSpec": reflect.TypeFor[berth.ScheduleSpec](),
		"Schedule":     reflect.TypeFor[berth.Schedule](),
		"Node":         reflect.TypeFor[berth.Node](),
		"JobView":      reflect.TypeFor[jobView](),
		"AttemptView":  reflect.TypeFor[attemptView](),
		"CostReport":   reflect.TypeFor[costReport](),
		"Pool":         reflect.TypeFor[poolView](),
		"PoolSpec":     reflect.TypeFor[berth.PoolSpec](),
		"InstanceType": reflect.TypeFor[berth.InstanceType](),
		"Instance":     reflect.TypeFor[instanceView](),
		"Autoscale":    reflect.TypeFor[autoscaleView](),
		"Error":        reflect.TypeFor[apiError](),
	}
	for name, typ := range types {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("openapi.json has no schema %s", name)
			continue
		}
		got := schemaFields(doc, s)
		want := goFields(typ)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("schema %s differs from %s (-go +openapi):\n%s", name, typ, diff)
		}
	}
}

func schemaFields(doc openapiDocument, s openapiSchema) []string {
	var out []string
	for k := range s.Properties {
		out = append(out, k)
	}
	for _, a := range s.AllOf {
		out = append(out, schemaFields(doc, doc.Components.Schemas[strings.TrimPrefix(a.Ref, "#/components/schemas/")])...)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func goFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			out = append(out, goFields(f.Type)...)
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return slices.Compact(out) // a field may shadow one of an embedded type
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
