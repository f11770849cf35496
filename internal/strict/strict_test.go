package strict_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/strict"
)

// pools is a document with lists of structs, as berth.yaml is.
type pools struct {
	Pools []berth.PoolSpec `json:"pools"`
}

// fieldProblem returns the field and problem of err, a *berth.FieldError.
func fieldProblem(t *testing.T, what string, err error) (string, string) {
	t.Helper()
	var fe *berth.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%s = %v (%T), want a *berth.FieldError", what, err, err)
	}
	return fe.Field, fe.Problem
}

func TestDecodeJSONRefuses(t *testing.T) {
	tests := []struct {
		body, field, problem string
	}{
		{`{"image":"busybox","imag":"x"}`, "imag", "unknown field"},
		{`{"image":"busybox","retries":{"attempts":2,"backof":"1s"}}`, "retries.backof", "unknown field"},
		{`{"image":"busybox","retries":{"backoff":"soon"}}`, "retries.backoff", `"soon" is not a duration`},
		{`{"image":"busybox","timeout":"10 minutes"}`, "timeout", "not a duration"},
		{`{"image":"busybox","timeout":true}`, "timeout", "want a duration"},
		{`{"image":"busybox","timeout":90}`, "timeout", "not the number 90"},
		{`{"image":"busybox","retries":{"backoff":5}}`, "retries.backoff", "not the number 5"},
		{`{"image":"busybox","cpu":0}`, "cpu", "must be more than 0"},             // the type's Checker
		{`{"image":"busybox","timeout":"0s"}`, "timeout", "must be more than 0s"}, // the type's Checker
		{`{"image":"busybox","cpu":"two"}`, "cpu", "want a number, not a string"},
		{`{"image":"busybox","cpu":1e400}`, "cpu", "want a number, not 1e400"},
		{`{"image":"busybox","memory_mb":"lots"}`, "memory_mb", "want a whole number, not a string"},
		{`{"image":"busybox","priority":1.5}`, "priority", "want a whole number, not 1.5"},
		{`{"image":"busybox","command":"echo hi"}`, "command", "want a list of strings, not a string"},
		{`{"image":"busybox","command":["a",1]}`, "command[1]", "want a string, not a number"},
		{`{"image":"busybox","env":{"DEBUG":true}}`, "env.DEBUG", "want a string, not a boolean"},
		{`{"image":"busybox","retries":{"on_exit_codes":[1,"x"]}}`, "retries.on_exit_codes[1]", "want a whole number"},
		{`{"image":"busybox","run_at":"tomorrow"}`, "run_at", `"tomorrow" is not an RFC 3339 time`},
		{`{"image":"busybox","retries":[1]}`, "retries", "want an object, not a list"},
		{`{"image":"busybox",}`, "", "malformed JSON at line 1: invalid character '}'"},
		{"{\n\"image\": \"a\"\n\"cpu\": 1}", "", `malformed JSON at line 3: invalid character '"' after object key:value pair`},
		{`{"image":"a"`, "", "malformed JSON: it ends early"},
		{``, "", "the document is empty"},
		{`  `, "", "the document is empty"},
		{`[]`, "", "want an object of fields, not a list"},
		{`null`, "", "want an object of fields, not null"},
		{`{"image":"a"} {"image":"b"}`, "", "more than one JSON value"},
		{`image: busybox`, "", "malformed JSON"}, // the API takes no YAML
		{`{"image":"x","image":"y"}`, "image", "is given twice"},
		{`{"image":"x","env":{"A":"1","B":"2","A":"3"}}`, "env.A", "is given twice"},
		{`{"image":"x","retries":{"on_exit_codes":[1],"attempts":2,"attempts":3}}`, "retries.attempts", "is given twice"},
	}
	for _, tt := range tests {
		var s berth.JobSpec
		field, problem := fieldProblem(t, "DecodeJSON("+tt.body+")", strict.DecodeJSON([]byte(tt.body), &s))
		if field != tt.field || !strings.Contains(problem, tt.problem) {
			t.Errorf("DecodeJSON(%s) = {%q, %q}, want field %q and a problem containing %q", tt.body, field, problem, tt.field, tt.problem)
		}
	}
}

// TestDecodeJSONSameKeyInTwoObjects: a key is a duplicate only within one
// object.
func TestDecodeJSONSameKeyInTwoObjects(t *testing.T) {
	var s berth.JobSpec
	body := `{"image":"x","labels":{"a":"1"},"env":{"a":"2"},"command":[{"a":1},{"a":2}]}`
	if err := strict.DecodeJSON([]byte(body), &s); err == nil || !strings.Contains(err.Error(), "command[0]") {
		t.Errorf("DecodeJSON(%s) = %v, want the command's objects refused as objects, not as duplicates", body, err)
	}
	body = `{"image":"x","labels":{"a":"1"},"env":{"a":"2"}}`
	if err := strict.DecodeJSON([]byte(body), &s); err != nil || s.Labels["a"] != "1" || s.Env["a"] != "2" {
		t.Errorf("DecodeJSON(%s) = %v, %+v; want it read", body, err, s)
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name, doc, field, problem string
	}{
		{"unknown field", "image: busybox\ncpus: 2\n", "cpus", "unknown field"},
		{"unknown nested field", "image: busybox\nretries:\n  attempt: 2\n", "retries.attempt", "unknown field"},
		{"unknown field in a list", "pools: [{name: a, provider: fake, instance_types: [{name: t, gpus: 1}]}]", "pools[0].instance_types[0].gpus", "unknown field"},
		{"wrong kind in a list", "pools: [{name: a, provider: fake, max: many}]", "pools[0].max", `want a whole number, not a string`},
		{"bad duration", "image: busybox\ntimeout: 10q\n", "timeout", `"10q" is not a duration`},
		{"duration without a unit", "image: busybox\ntimeout: 90\n", "timeout", "not the number 90"},
		{"zero given", "image: busybox\nmemory_mb: 0\n", "memory_mb", "must be more than 0"},
		{"bad time", "image: busybox\nrun_at: tomorrow\n", "run_at", `"tomorrow" is not an RFC 3339 time`},
		{"object for a list", "image: busybox\ncommand: {a: b}\n", "command", "want a list of strings, not an object"},
		{"quoted number", "image: busybox\ncpu: \"1\"\n", "cpu", "want a number, not a string"},
		{"infinity", "image: busybox\ncpu: .inf\n", "", "line 2: .inf is not a number JSON can hold"},
		{"duplicate key", "image: a\nimage: b\n", "", `malformed YAML: line 2: key "image" appears twice`},
		{"merge key", "base: &b {image: a}\n<<: *b\n", "", "line 2: keys must be plain names"},
		{"two documents", "image: a\n---\nimage: b\n", "", "more than one YAML document"},
		{"yaml syntax", "image: [a\n", "", "malformed YAML: line"},
		{"broken flow style reads as JSON", "{image: [a}", "", "malformed JSON"},
		{"duplicate key in JSON", `{"pools": [{"name": "a", "provider": "local", "name": "b"}]}`, "pools[0].name", "is given twice"},
		{"not a mapping", "- a\n- b\n", "", "want an object of fields, not a list"},
		{"a scalar", "busybox", "", "want an object of fields, not a string"},
		{"empty", "\xef\xbb\xbf  \n", "", "the document is empty"},
		{"only a comment", "# nothing\n", "", "the document is empty"},
		{"null", "~\n", "", "want an object of fields, not null"},
	}
	for _, tt := range tests {
		var err error
		if strings.HasPrefix(tt.doc, "pools") {
			err = strict.Decode([]byte(tt.doc), &pools{})
		} else {
			err = strict.Decode([]byte(tt.doc), &berth.JobSpec{})
		}
		field, problem := fieldProblem(t, tt.name, err)
		if field != tt.field || !strings.Contains(problem, tt.problem) {
			t.Errorf("%s: Decode = {%q, %q}, want field %q and a problem containing %q", tt.name, field, problem, tt.field, tt.problem)
		}
	}
}

// TestDocumentErrorText: a problem with the whole document reads without
// the colon of an empty field, and is still a *berth.FieldError.
func TestDocumentErrorText(t *testing.T) {
	err := strict.Decode(nil, &berth.JobSpec{})
	if err == nil || err.Error() != "the document is empty" {
		t.Errorf("Decode(nil) = %v, want \"the document is empty\"", err)
	}
	err = strict.Decode([]byte("cpus: 2"), &berth.JobSpec{})
	if err == nil || err.Error() != "cpus: unknown field" {
		t.Errorf("Decode(cpus: 2) = %v, want \"cpus: unknown field\"", err)
	}
}

func TestDecodeYAMLAndJSONAgree(t *testing.T) {
	runAt := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	want := berth.JobSpec{
		Name: "2026-05-01", Image: "busybox", Command: []string{"sh", "-c", "echo hi"},
		Env: map[string]string{"MODE": "fast", "N": "3"}, CPU: 0.25, MemoryMB: 128,
		Timeout: berth.Duration(90 * time.Second),
		Retries: berth.RetryPolicy{Attempts: 3, Backoff: berth.Duration(5 * time.Second), OnExitCodes: []int{2}},
		RunAt:   &runAt, Labels: map[string]string{"team": "data"},
	}
	docs := map[string]string{
		"json": `{"name":"2026-05-01","image":"busybox","command":["sh","-c","echo hi"],"env":{"MODE":"fast","N":"3"},
			"cpu":0.25,"memory_mb":128,"timeout":"90s","retries":{"attempts":3,"backoff":"5s","on_exit_codes":[2]},
			"run_at":"2026-05-01T02:00:00Z","labels":{"team":"data"}}`,
		"yaml": `name: 2026-05-01          # stays a string
image: busybox
command: [sh, -c, echo hi]
env: {MODE: fast, N: 3}
cpu: 0.25
memory_mb: 128
timeout: 90s
retries: {attempts: 3, backoff: 5s, on_exit_codes: [2]}
run_at: 2026-05-01T02:00:00Z
labels: {team: data}
`,
	}
	for name, doc := range docs {
		var got berth.JobSpec
		if err := strict.Decode([]byte(doc), &got); err != nil {
			t.Fatalf("Decode(%s) = %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Decode(%s) mismatch (-want +got):\n%s", name, diff)
		}
	}
	var got berth.JobSpec
	doc := "image: busybox\ncommand: [true, 1.10, 0x1F, ~]\nenv: {DEBUG: yes, N: 007}\nlabels: {version: 1.0}\n"
	if err := strict.Decode([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	wantStrings := berth.JobSpec{Image: "busybox", Command: []string{"true", "1.10", "0x1F", ""},
		Env: map[string]string{"DEBUG": "yes", "N": "007"}, Labels: map[string]string{"version": "1.0"}}
	if diff := cmp.Diff(wantStrings, got); diff != "" {
		t.Errorf("YAML scalars bound for strings (-want +got):\n%s", diff)
	}
}

// TestFieldCase: a field written in another case is the field, as
// encoding/json has it.
func TestFieldCase(t *testing.T) {
	var s berth.JobSpec
	if err := strict.Decode([]byte("IMAGE: busybox\nRetries: {Attempts: 2}\n"), &s); err != nil || s.Image != "busybox" || s.Retries.Attempts != 2 {
		t.Errorf("Decode(IMAGE, Retries.Attempts) = %v, %+v; want both set", err, s)
	}
	if err := strict.DecodeJSON([]byte(`{"image":"busybox","CPU":"two"}`), &s); err == nil || err.Error() != "CPU: want a number, not a string" {
		t.Errorf("DecodeJSON(CPU: two) = %v, want CPU named", err)
	}
}

func TestDecodeNested(t *testing.T) {
	var sch berth.ScheduleSpec
	err := strict.DecodeJSON([]byte(`{"cron":"@daily","job":{"image":"busybox","bogus":1}}`), &sch)
	if err == nil || err.Error() != "job.bogus: unknown field" {
		t.Errorf("DecodeJSON(schedule with job.bogus) = %v, want job.bogus: unknown field", err)
	}
	var p pools
	doc := "pools:\n  - name: a\n    provider: fake\n    window: {opens: '0 2 * * *', closes: '0 6 * * *'}\n    instance_types:\n      - {name: t, cpu: 1, memory_mb: 512, price: 0.1}\n"
	if err := strict.Decode([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Pools) != 1 || p.Pools[0].Window == nil || p.Pools[0].Window.Opens != "0 2 * * *" || p.Pools[0].InstanceTypes[0].MemoryMB != 512 {
		t.Errorf("Decode(pools) = %+v", p)
	}
}

// TestEmbedded: fields of embedded structs are known; a field of the outer
// struct wins over one of the same name inside.
func TestEmbedded(t *testing.T) {
	type inner struct {
		A string `json:"a"`
		B string `json:"b"`
	}
	type outer struct {
		inner
		B int `json:"b"`
	}
	var o outer
	if err := strict.DecodeJSON([]byte(`{"a":"x","b":2}`), &o); err != nil || o.A != "x" || o.B != 2 {
		t.Errorf("DecodeJSON(embedded) = %v, %+v", err, o)
	}
	if err := strict.DecodeJSON([]byte(`{"a":"x","b":"y"}`), &o); err == nil || err.Error() != "b: want a whole number, not a string" {
		t.Errorf("DecodeJSON(embedded, shadowed b a string) = %v", err)
	}
}

func TestDecodeNeedsAPointer(t *testing.T) {
	var s berth.JobSpec
	if err := strict.DecodeJSON([]byte(`{}`), s); err == nil {
		t.Error("DecodeJSON(a struct, not a pointer) = nil, want an error")
	}
	var fe *berth.FieldError
	if err := strict.Decode([]byte(`{}`), (*berth.JobSpec)(nil)); err == nil || errors.As(err, &fe) {
		t.Errorf("Decode(nil pointer) = %v, want an error that is not the document's fault", err)
	}
}

// FuzzJobSpec checks that no body makes decoding or validation panic, that
// every error names a problem, and that a spec that decodes comes back the
// same through its own JSON.
func FuzzJobSpec(f *testing.F) {
	for _, s := range []string{
		`{"image":"busybox","command":["true"]}`,
		`{"image":"busybox","cpu":-1,"memory_mb":1e12}`,
		`{"image":"busybox","retries":{"attempts":3,"backoff":"1s","on_exit_codes":[0,256]}}`,
		`{"image":"","timeout":"-1s","labels":{"":""},"env":{"BERTH_X":"1"}}`,
		`{"image":"x","run_at":"0001-01-01T00:00:00Z","callback_url":"ftp://x"}`,
		`{"retries":null,"env":null,"cpu":null}`,
		`{"image":"x","command":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
		strings.Repeat(`{"env":`, 70) + "{}" + strings.Repeat("}", 70),
		strings.Repeat("[", 5000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var s berth.JobSpec
		err := strict.DecodeJSON(body, &s)
		if err != nil {
			mustNameProblem(t, err)
			return
		}
		roundTrip(t, s)
		if err := s.Validate(); err != nil {
			mustNameProblem(t, err)
			return
		}
		if s = s.WithDefaults(); s.CPU <= 0 || s.MemoryMB < berth.MinMemoryMB {
			t.Fatalf("valid spec %+v has no resources after defaults", s)
		}
	})
}

// FuzzDecode checks that no YAML or JSON document makes Decode panic, that
// every error names a problem, and that what decodes comes back the same
// through its own JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"cron: '@daily'\njob:\n  image: busybox\n  command: [true, 1.10]\n",
		"cron: x\njob: {image: a, env: {A: yes}, retries: {backoff: 5s}}\n",
		"name: &n a\ncron: *n\njob: {image: *n}\n",
		"job: {run_at: 2026-05-01T02:00:00Z, timeout: 90}\n",
		"job:\n  image: a\n  image: b\n",
		`{"cron":"@daily","job":{"image":"busybox"}}`,
		"{cron: x, job: {image: [}",
		"- a\n",
		"job:\n  labels: " + strings.Repeat("[", 80) + strings.Repeat("]", 80) + "\n",
		strings.Repeat("- ", 80) + "x\n",
		`{"job":` + strings.Repeat("[", 3000) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var s berth.ScheduleSpec
		if err := strict.Decode(doc, &s); err != nil {
			mustNameProblem(t, err)
			return
		}
		roundTrip(t, s)
	})
}

func mustNameProblem(t *testing.T, err error) {
	t.Helper()
	var fe *berth.FieldError
	if !errors.As(err, &fe) || fe.Problem == "" {
		t.Fatalf("error %v is not a *berth.FieldError with a problem", err)
	}
}

// roundTrip checks that v, written as JSON, decodes strictly to itself
// (an empty map or list may come back nil).
func roundTrip[T any](t *testing.T, v T) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %+v: %v", v, err)
	}
	var back T
	if err := strict.DecodeJSON(b, &back); err != nil {
		t.Fatalf("DecodeJSON(%s), its own JSON = %v", b, err)
	}
	if diff := cmp.Diff(v, back, cmpopts.EquateEmpty()); diff != "" { // omitempty drops empty maps and lists
		t.Fatalf("%s decoded differently (-first +again):\n%s", b, diff)
	}
}

// BenchmarkDecodeJSON decodes a job body as POST /v1/jobs does.
func BenchmarkDecodeJSON(b *testing.B) {
	body := []byte(`{"name":"n","image":"busybox:1","command":["sh","-c","exit 3"],"env":{"A":"1"},"cpu":1.5,"memory_mb":512,
	"timeout":"10m","retries":{"attempts":3,"backoff":"2s","on_exit_codes":[3]},"run_at":"2026-01-02T03:04:05Z",
	"priority":5,"labels":{"team":"x"},"callback_url":"http://h/cb","idempotency_key":"k"}`)
	b.ReportAllocs()
	for b.Loop() {
		var s berth.JobSpec
		if err := strict.DecodeJSON(body, &s); err != nil {
			b.Fatal(err)
		}
	}
}
