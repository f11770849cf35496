package berth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestJobSpecValidate(t *testing.T) {
	ok := func() JobSpec { return JobSpec{Image: "busybox", Command: []string{"true"}} }
	past := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	soon, later := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change func(*JobSpec)
		field  string
	}{
		{"valid", func(*JobSpec) {}, ""},
		{"missing image", func(s *JobSpec) { s.Image = "" }, "image"},
		{"bad image", func(s *JobSpec) { s.Image = "bad image" }, "image"},
		{"upper-case image", func(s *JobSpec) { s.Image = "BARSBOX:1" }, "image"},
		{"empty tag", func(s *JobSpec) { s.Image = "busybox:" }, "image"},
		{"short digest", func(s *JobSpec) { s.Image = "busybox@sha256:abc" }, "image"},
		{"image id", func(s *JobSpec) { s.Image = strings.Repeat("0f", 32) }, "image"},
		{"image with registry, tag and digest", func(s *JobSpec) {
			s.Image = "registry.example.com:5000/team/app:v1@sha256:" + strings.Repeat("0f", 32)
		}, ""},
		{"name with NUL", func(s *JobSpec) { s.Name = "nightly\x00" }, "name"},
		{"name with newline", func(s *JobSpec) { s.Name = "nightly\nreport" }, "name"},
		{"name with escape", func(s *JobSpec) { s.Name = "\x1b[31mred" }, "name"},
		{"name with bidi override", func(s *JobSpec) { s.Name = "report\u202egnp.exe" }, "name"},
		{"name not UTF-8", func(s *JobSpec) { s.Name = "caf\xe9" }, "name"},
		{"name in any script", func(s *JobSpec) { s.Name = "rapport mensuel · 月報 ✓" }, ""},
		{"label key with NUL", func(s *JobSpec) { s.Labels = map[string]string{"team\x00": "x"} }, "labels"},
		{"label key not UTF-8", func(s *JobSpec) { s.Labels = map[string]string{"caf\xe9": "x"} }, "labels"},
		{"label value with NUL", func(s *JobSpec) { s.Labels = map[string]string{"team": "a\x00b"} }, "labels.team"},
		{"label value with tab", func(s *JobSpec) { s.Labels = map[string]string{"team": "a\tb"} }, "labels.team"},
		{"label value not UTF-8", func(s *JobSpec) { s.Labels = map[string]string{"team": "caf\xe9"} }, "labels.team"},
		{"label value with spaces", func(s *JobSpec) { s.Labels = map[string]string{"team": "data eng, café"} }, ""},
		{"negative cpu", func(s *JobSpec) { s.CPU = -1 }, "cpu"},
		{"absurd cpu", func(s *JobSpec) { s.CPU = 1e9 }, "cpu"},
		{"tiny memory", func(s *JobSpec) { s.MemoryMB = 1 }, "memory_mb"},
		{"absurd memory", func(s *JobSpec) { s.MemoryMB = 1 << 40 }, "memory_mb"},
		{"pids", func(s *JobSpec) { s.PIDs = 64 }, ""},
		{"one pid", func(s *JobSpec) { s.PIDs = 1 }, ""},
		{"most pids", func(s *JobSpec) { s.PIDs = MaxPIDs }, ""},
		{"negative pids", func(s *JobSpec) { s.PIDs = -1 }, "pids"},
		{"absurd pids", func(s *JobSpec) { s.PIDs = MaxPIDs + 1 }, "pids"},
		{"negative timeout", func(s *JobSpec) { s.Timeout = Duration(-time.Second) }, "timeout"},
		{"retries too many", func(s *JobSpec) { s.Retries.Attempts = 1000 }, "retries.attempts"},
		{"retry on exit 0", func(s *JobSpec) { s.Retries.OnExitCodes = []int{0} }, "retries.on_exit_codes"},
		{"max below backoff", func(s *JobSpec) {
			s.Retries = RetryPolicy{Attempts: 1, Backoff: Duration(time.Minute), MaxBackoff: Duration(time.Second)}
		}, "retries.max_backoff"},
		{"reserved env", func(s *JobSpec) { s.Env = map[string]string{"BERTH_CALLBACK_TOKEN": "x"} }, "env.BERTH_CALLBACK_TOKEN"},
		{"bad env name", func(s *JobSpec) { s.Env = map[string]string{"A=B": "x"} }, "env"},
		{"bad label", func(s *JobSpec) { s.Labels = map[string]string{"": "x"} }, "labels"},
		{"priority", func(s *JobSpec) { s.Priority = 5000 }, "priority"},
		{"callback scheme", func(s *JobSpec) { s.CallbackURL = "ftp://example.com/x" }, "callback_url"},
		{"callback with a password", func(s *JobSpec) { s.CallbackURL = "https://u:p@example.com/x" }, "callback_url"},
		{"pool name", func(s *JobSpec) { s.Pool = "Spot Pool" }, "pool"},
		{"negative start budget", func(s *JobSpec) { b := Duration(-time.Second); s.StartBudget = &b }, "start_budget"},
		{"start budget too long", func(s *JobSpec) { b := Duration(MaxStartBudget + time.Hour); s.StartBudget = &b }, "start_budget"},
		{"the old pool label", func(s *JobSpec) { s.Labels = map[string]string{"berth.pool": "spot"} }, "labels.berth.pool"},
		{"the old start-budget label", func(s *JobSpec) { s.Labels = map[string]string{"berth.start-budget": "1m"} }, "labels.berth.start-budget"},
		{"a label of berth's own", func(s *JobSpec) { s.Labels = map[string]string{"berth.job": "x"} }, "labels.berth.job"},
		{"retain under a minute", func(s *JobSpec) { d := Duration(time.Second); s.Retain = &d }, "retain"},
		{"run_at out of range", func(s *JobSpec) { s.RunAt = &past }, "run_at"},
		{"deadline", func(s *JobSpec) {
			s.Deadline, s.ExpectedDuration, s.Checkpoint = &soon, Duration(time.Hour), CheckpointOnSigterm
		}, ""},
		{"deadline out of range", func(s *JobSpec) { s.Deadline = &past }, "deadline"},
		{"deadline before run_at", func(s *JobSpec) { s.Deadline, s.RunAt = &soon, &later }, "deadline"},
		{"no time after run_at", func(s *JobSpec) { s.Deadline, s.RunAt, s.ExpectedDuration = &later, &soon, Duration(48*time.Hour) }, "deadline"},
		{"unknown checkpoint", func(s *JobSpec) { s.Checkpoint = "sometimes" }, "checkpoint"},
		{"negative expected duration", func(s *JobSpec) { s.ExpectedDuration = Duration(-time.Hour) }, "expected_duration"},
		{"expected duration above the timeout", func(s *JobSpec) {
			s.ExpectedDuration, s.Timeout = Duration(2*time.Hour), Duration(time.Hour)
		}, "expected_duration"},
	}
	for _, tt := range tests {
		s := ok()
		tt.change(&s)
		err := s.Validate()
		var fe *FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: Validate() = %v, want an error on field %q", tt.name, err, tt.field)
		}
	}
}

// TestJobSpecCheckJSON checks that a document giving a field as zero where
// leaving it out means a default is refused, naming the field; decoding
// alone cannot tell the two apart.
func TestJobSpecCheckJSON(t *testing.T) {
	tests := []struct {
		doc   string
		field string
	}{
		{`{"image":"busybox"}`, ""},
		{`{"image":"busybox","cpu":1,"memory_mb":64,"pids":100,"timeout":"1m"}`, ""},
		{`{"image":"busybox","cpu":null,"timeout":null}`, ""},
		{`{"image":"busybox","priority":0,"retries":{"attempts":0}}`, ""},
		{`{"image":"busybox","cpu":0}`, "cpu"},
		{`{"image":"busybox","cpu":0.0}`, "cpu"},
		{`{"image":"busybox","cpu":-0}`, "cpu"},
		{`{"image":"busybox","cpu":1e-400}`, "cpu"}, // 0 to a float64
		{`{"image":"busybox","cpu":0.5e1}`, ""},
		{`{"image":"busybox","memory_mb":10}`, ""},
		{`{"image":"busybox","CPU":0}`, "cpu"}, // encoding/json matches keys in any case
		{`{"image":"busybox","memory_mb":0}`, "memory_mb"},
		{`{"image":"busybox","pids":0}`, "pids"},
		{`{"image":"busybox","timeout":"0s"}`, "timeout"},
		{`{"image":"busybox","timeout":"0"}`, "timeout"},
		{`{"image":"busybox","timeout":"0h0m"}`, "timeout"},
		{`{"image":"busybox","timeout":"10m","cpu":0.5}`, ""},
		{` { "c\u0070u" : 0 } `, "cpu"}, // names are compared unescaped
		{`{"name":"a\"}{[","labels":{"cpu":"0"},"cpu":0}`, "cpu"},
		{`{"retries":{"attempts":1,"pids":0},"env":{"X":"{\"cpu\":0}"}}`, ""}, // not the job's own fields
		{`{"image":"busybox","cpu":0,"cpu":1}`, ""},                           // the last one counts, as in encoding/json
	}
	for _, tt := range tests {
		err := JobSpec{}.CheckJSON([]byte(tt.doc))
		var fe *FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("CheckJSON(%s) = %v, want nil", tt.doc, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("CheckJSON(%s) = %v, want an error on field %q", tt.doc, err, tt.field)
		}
	}
	for _, doc := range []string{``, `[]`, `{"cpu":0`, `{"cpu":0}x`, `{"cpu"}`, `{"a":1,}`} {
		var fe *FieldError
		if err := (JobSpec{}).CheckJSON([]byte(doc)); !errors.As(err, &fe) || fe.Field != "" {
			t.Errorf("CheckJSON(%s) = %v, want an error with the document", doc, err)
		}
	}
	for doc, field := range map[string]string{
		`{"cron":"@daily","job":{"image":"busybox","memory_mb":0}}`:  "job.memory_mb",
		`{"cron":"@daily","job":{"image":"busybox","timeout":"0s"}}`: "job.timeout",
		`{"cron":"@daily","job":{"image":"busybox","cpu":2}}`:        "",
		`{"cron":"@daily"}`:            "",
		`{"cron":"@daily","job":null}`: "",
	} {
		err := ScheduleSpec{}.CheckJSON([]byte(doc))
		var fe *FieldError
		if field == "" && err != nil || field != "" && (!errors.As(err, &fe) || fe.Field != field) {
			t.Errorf("ScheduleSpec CheckJSON(%s) = %v, want field %q", doc, err, field)
		}
	}
}

// TestJobSpecDefaults checks what WithDefaults fills in, and that it keeps
// what the spec gives.
func TestJobSpecDefaults(t *testing.T) {
	got := JobSpec{Image: "busybox"}.WithDefaults()
	if got.CPU != DefaultCPU || got.MemoryMB != DefaultMemoryMB || got.PIDs != DefaultPIDs || got.Timeout != 0 {
		t.Errorf("WithDefaults() = cpu %g, memory %d, pids %d, timeout %v; want %g, %d, %d, 0",
			got.CPU, got.MemoryMB, got.PIDs, got.Timeout, float64(DefaultCPU), DefaultMemoryMB, DefaultPIDs)
	}
	if got := (JobSpec{Image: "busybox", PIDs: 16}).WithDefaults(); got.PIDs != 16 {
		t.Errorf("WithDefaults() pids = %d, want the spec's 16", got.PIDs)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate() of the defaults = %v", err)
	}
}

func TestScheduleSpecValidate(t *testing.T) {
	tests := []struct {
		spec  ScheduleSpec
		field string
	}{
		{ScheduleSpec{Cron: "@daily", Job: JobSpec{Image: "busybox"}}, ""},
		{ScheduleSpec{Job: JobSpec{Image: "busybox"}}, "cron"},
		{ScheduleSpec{Cron: "@daily", TimeZone: "Mars/Olympus", Job: JobSpec{Image: "busybox"}}, "time_zone"},
		{ScheduleSpec{Cron: "@daily", Concurrency: "sometimes", Job: JobSpec{Image: "busybox"}}, "concurrency"},
		{ScheduleSpec{Cron: "@daily", Job: JobSpec{}}, "job.image"},
		{ScheduleSpec{Cron: "@daily", Job: JobSpec{Image: "busybox", Deadline: &time.Time{}}}, "job.deadline"},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if tt.field == "" && err != nil || tt.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.field+":")) {
			t.Errorf("Validate(%+v) = %v, want field %q", tt.spec, err, tt.field)
		}
	}
}

func TestCheckDeadline(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name string
		spec JobSpec
		ok   bool
	}{
		{"no deadline", JobSpec{}, true},
		{"time to spare", JobSpec{Deadline: at(3 * time.Hour), ExpectedDuration: Duration(2 * time.Hour)}, true},
		{"just enough", JobSpec{Deadline: at(2 * time.Hour), ExpectedDuration: Duration(2 * time.Hour)}, true},
		{"too short", JobSpec{Deadline: at(time.Hour), ExpectedDuration: Duration(2 * time.Hour)}, false},
		{"passed", JobSpec{Deadline: at(-time.Minute)}, false},
		{"now", JobSpec{Deadline: at(0)}, false},
		{"too short after run_at", JobSpec{RunAt: at(2 * time.Hour), Deadline: at(3 * time.Hour), ExpectedDuration: Duration(2 * time.Hour)}, false},
	}
	for _, tt := range tests {
		err := tt.spec.CheckDeadline(now)
		var fe *FieldError
		if tt.ok && err != nil || !tt.ok && (!errors.As(err, &fe) || fe.Field != "deadline") {
			t.Errorf("%s: CheckDeadline() = %v, want ok = %v (else an error on deadline)", tt.name, err, tt.ok)
		}
	}
}
