package berth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		body      string
		wantField string
		wantIn    string
	}{
		{`{"image":"busybox","command":["true"]}`, "", ""},
		{`{"image":"busybox","imag":"x"}`, "imag", "unknown field"},
		{`{"image":"busybox","retries":{"attempts":2,"backof":"1s"}}`, "retries.backof", "unknown field"},
		{`{"image":"busybox","retries":{"backoff":"soon"}}`, "retries.backoff", "not a duration"},
		{`{"image":"busybox","timeout":"10 minutes"}`, "timeout", "not a duration"},
		{`{"image":"busybox","cpu":"two"}`, "cpu", "want a number, got string"},
		{`{"image":"busybox","command":"echo hi"}`, "command", "want an array of strings"},
		{`{"image":"busybox","run_at":"tomorrow"}`, "run_at", "RFC 3339"},
		{`{"image":"busybox","retries":[1]}`, "retries", "must be a JSON object"},
		{`{"image":"busybox",}`, "", "malformed JSON"},
		{``, "", "malformed JSON"},
		{`[]`, "", "must be a JSON object"},
		{`{"image":"a"} {"image":"b"}`, "", "more than one value"},
	}
	for _, tt := range tests {
		var s JobSpec
		err := DecodeStrict([]byte(tt.body), &s)
		if tt.wantIn == "" {
			if err != nil {
				t.Errorf("DecodeStrict(%s) = %v, want nil", tt.body, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("DecodeStrict(%s) = %v, want a *FieldError", tt.body, err)
			continue
		}
		if fe.Field != tt.wantField || !strings.Contains(fe.Problem, tt.wantIn) {
			t.Errorf("DecodeStrict(%s) = {%q, %q}, want field %q and a problem containing %q", tt.body, fe.Field, fe.Problem, tt.wantField, tt.wantIn)
		}
	}
}

func TestDecodeStrictFields(t *testing.T) {
	var s JobSpec
	body := `{"name":"n","image":"busybox:1","command":["sh","-c","exit 3"],"env":{"A":"1"},"cpu":1.5,"memory_mb":512,
	"timeout":"10m","retries":{"attempts":3,"backoff":"2s","on_exit_codes":[3]},"run_at":"2026-01-02T03:04:05Z",
	"priority":5,"labels":{"team":"x"},"callback_url":"http://h/cb","idempotency_key":"k"}`
	if err := DecodeStrict([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.CPU != 1.5 || s.MemoryMB != 512 || time.Duration(s.Timeout) != 10*time.Minute || s.Retries.Attempts != 3 ||
		time.Duration(s.Retries.Backoff) != 2*time.Second || s.RunAt == nil || s.RunAt.Hour() != 3 || s.Labels["team"] != "x" {
		t.Errorf("DecodeStrict decoded %+v", s)
	}
	var sch ScheduleSpec
	if err := DecodeStrict([]byte(`{"cron":"@daily","job":{"image":"busybox","bogus":1}}`), &sch); err == nil || !strings.HasPrefix(err.Error(), "job.bogus:") {
		t.Errorf("DecodeStrict(schedule with job.bogus) = %v, want a job.bogus error", err)
	}
}

// FuzzJobSpec checks that no body makes decoding or validation panic, and
// that every error names a problem.
func FuzzJobSpec(f *testing.F) {
	for _, s := range []string{
		`{"image":"busybox","command":["true"]}`,
		`{"image":"busybox","cpu":-1,"memory_mb":1e12}`,
		`{"image":"busybox","retries":{"attempts":3,"backoff":"1s","on_exit_codes":[0,256]}}`,
		`{"image":"","timeout":"-1s","labels":{"":""},"env":{"BERTH_X":"1"}}`,
		`{"image":"x","run_at":"0001-01-01T00:00:00Z","callback_url":"ftp://x"}`,
		`{"retries":null,"env":null,"cpu":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var s JobSpec
		err := DecodeStrict(body, &s)
		if err == nil {
			err = s.Validate()
		}
		if err == nil {
			s = s.WithDefaults()
			if s.CPU <= 0 || s.MemoryMB < MinMemoryMB {
				t.Fatalf("valid spec %+v has no resources after defaults", s)
			}
			return
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Problem == "" {
			t.Fatalf("error %v is not a *FieldError with a problem", err)
		}
	})
}
