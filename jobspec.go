package berth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Defaults and limits of a job spec.
const (
	DefaultCPU      = 0.5
	DefaultMemoryMB = 256
	DefaultPIDs     = 4096

	MaxCPU         = 1024
	MinMemoryMB    = 6 // the Docker engine refuses less
	MaxMemoryMB    = 16 << 20
	MaxPIDs        = 1 << 22 // the kernel's own limit (pid_max) on 64-bit Linux
	MaxTimeout     = 30 * 24 * time.Hour
	MaxRetries     = 100
	MaxBackoff     = 24 * time.Hour
	MaxPriority    = 1000
	MaxLabels      = 64
	MaxEnv         = 256
	MaxCommandArgs = 4096
	maxShortString = 256
	maxLongString  = 32 << 10
)

// JobSpec is what a user asks to run: one container, to completion.
type JobSpec struct {
	Name           string            `json:"name,omitempty"`
	Image          string            `json:"image"`
	Command        []string          `json:"command,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	SecretEnv      map[string]string `json:"secret_env,omitempty"` // env that berth keeps encrypted and never shows (secretenv.go)
	CPU            float64           `json:"cpu,omitempty"`        // vCPUs, fractional
	MemoryMB       int64             `json:"memory_mb,omitempty"`  // hard limit
	PIDs           int64             `json:"pids,omitempty"`       // most processes and threads at once
	Timeout        Duration          `json:"timeout,omitempty"`    // 0: none
	Retries        RetryPolicy       `json:"retries,omitzero"`
	RunAt          *time.Time        `json:"run_at,omitempty"`
	Priority       int               `json:"priority,omitempty"` // higher runs first
	Labels         map[string]string `json:"labels,omitempty"`
	CallbackURL    string            `json:"callback_url,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`

	// Deadline is when the job must have finished. On a fleet with Spot
	// pools, a deadline policy runs the job on Spot while on-demand
	// capacity could still finish it in time, and moves it to on-demand
	// when it must.
	Deadline *time.Time `json:"deadline,omitempty"`
	// ExpectedDuration is the job's run time on one host. With a deadline
	// and no expected duration, berth learns it from earlier successful
	// runs of jobs with the same labels.
	ExpectedDuration Duration `json:"expected_duration,omitempty"`
	// Checkpoint says what the job keeps when berth stops it to move it:
	// CheckpointNone (the default: it starts again from zero) or
	// CheckpointOnSigterm (it saves its progress when sent SIGTERM and
	// resumes from there).
	Checkpoint string `json:"checkpoint,omitempty"`

	// Pool pins the job to a pool: it runs only on that pool's capacity
	// (a pool of the configuration, or one a node has joined), the pool
	// grows for it, and its overflow and start budget apply. A serverless
	// pool runs it at once.
	Pool string `json:"pool,omitempty"`
	// StartBudget is how long the job may wait for capacity before it runs
	// on its pool's serverless overflow, in place of the pool's own start
	// budget; "0s" sends it there as soon as it cannot be placed.
	StartBudget *Duration `json:"start_budget,omitempty"`
	// Retain is how long the finished job, its attempts and logs are kept
	// before they are deleted, in place of the server's --retain.
	Retain *Duration `json:"retain,omitempty"`
}

// MinRetain is the shortest a finished job may be kept: long enough for a
// client that waits on it to read its end.
const MinRetain = time.Minute

// ReservedLabelPrefix starts the label keys berth keeps for itself: a job
// may not set them. Options that once were labels are fields now
// (RenamedLabels).
const ReservedLabelPrefix = "berth."

// RenamedLabels are the labels that once set a job's options, by the field
// that sets them now.
var RenamedLabels = map[string]string{"berth.pool": "pool", "berth.start-budget": "start_budget"}

// MaxStartBudget bounds a job's start budget.
const MaxStartBudget = 30 * 24 * time.Hour

// How a job checkpoints, as written in JobSpec.Checkpoint.
const (
	CheckpointNone      = "none"
	CheckpointOnSigterm = "on-sigterm"
)

// RetryPolicy says how often and when a failed job runs again. Attempts is
// the number of retries after the first run; 0 means none. The n-th retry
// waits Backoff·2ⁿ⁻¹, capped at MaxBackoff, with up to 20% jitter. When
// OnExitCodes is set, only those exit codes are retried.
type RetryPolicy struct {
	Attempts    int      `json:"attempts,omitempty"`
	Backoff     Duration `json:"backoff,omitempty"`
	MaxBackoff  Duration `json:"max_backoff,omitempty"`
	OnExitCodes []int    `json:"on_exit_codes,omitempty"`
}

// Default retry timings.
const (
	DefaultBackoff    = 10 * time.Second
	DefaultMaxBackoff = 10 * time.Minute
)

// WithDefaults returns s with unset resources and retry timings filled in.
func (s JobSpec) WithDefaults() JobSpec {
	if s.CPU == 0 {
		s.CPU = DefaultCPU
	}
	if s.MemoryMB == 0 {
		s.MemoryMB = DefaultMemoryMB
	}
	if s.PIDs == 0 {
		s.PIDs = DefaultPIDs
	}
	if s.Deadline != nil && s.Checkpoint == "" {
		s.Checkpoint = CheckpointNone
	}
	if s.Retries.Attempts > 0 {
		if s.Retries.Backoff == 0 {
			s.Retries.Backoff = Duration(DefaultBackoff)
		}
		if s.Retries.MaxBackoff == 0 {
			s.Retries.MaxBackoff = Duration(max(DefaultMaxBackoff, time.Duration(s.Retries.Backoff)))
		}
	}
	return s
}

var (
	envKeyRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	labelKeyRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$`)
)

// Validate reports the first problem with s as a *FieldError. It checks s as
// written; call it before WithDefaults so zero values mean "unset". (A
// document that gives a zero explicitly is refused by CheckJSON.)
func (s JobSpec) Validate() error {
	if err := s.validateContainer(); err != nil {
		return err
	}
	if err := s.validateSecretEnv(); err != nil {
		return err
	}
	if err := s.validateResources(); err != nil {
		return err
	}
	if err := s.Retries.Validate(); err != nil {
		return prefixField("retries", err)
	}
	if err := s.validateDeadline(); err != nil {
		return err
	}
	return s.validateMeta()
}

func (s JobSpec) validateDeadline() error {
	switch {
	case s.Checkpoint != "" && s.Checkpoint != CheckpointNone && s.Checkpoint != CheckpointOnSigterm:
		return fieldErr("checkpoint", "%q is not one of %s, %s", s.Checkpoint, CheckpointNone, CheckpointOnSigterm)
	case s.ExpectedDuration < 0:
		return fieldErr("expected_duration", "must not be negative")
	case s.ExpectedDuration != 0 && time.Duration(s.ExpectedDuration) < time.Second:
		return fieldErr("expected_duration", "must be at least 1s")
	case time.Duration(s.ExpectedDuration) > MaxTimeout:
		return fieldErr("expected_duration", "must be at most %s", MaxTimeout)
	case s.Timeout != 0 && s.ExpectedDuration > s.Timeout:
		return fieldErr("expected_duration", "%s is longer than the timeout of %s", ShortDuration(time.Duration(s.ExpectedDuration)), ShortDuration(time.Duration(s.Timeout)))
	case s.Deadline == nil:
		return nil
	case s.Deadline.Year() < 2000 || s.Deadline.Year() > 9999:
		return fieldErr("deadline", "%s is out of range", s.Deadline.Format(time.RFC3339))
	case s.RunAt != nil && !s.Deadline.After(s.RunAt.Add(time.Duration(s.ExpectedDuration))):
		return fieldErr("deadline", "%s leaves no time to run after run_at %s", s.Deadline.Format(time.RFC3339), s.RunAt.Format(time.RFC3339))
	}
	return nil
}

// CheckDeadline reports, as a *FieldError, a deadline that the job could
// not meet even if it started at now (or at its run_at) on capacity that is
// ready: one before the job's expected duration has passed.
func (s JobSpec) CheckDeadline(now time.Time) error {
	if s.Deadline == nil {
		return nil
	}
	start := now
	if s.RunAt != nil && s.RunAt.After(now) {
		start = *s.RunAt
	}
	if end := start.Add(time.Duration(s.ExpectedDuration)); s.Deadline.Before(end) || !s.Deadline.After(now) {
		return fieldErr("deadline", "%s cannot be met: the job needs %s from %s", s.Deadline.UTC().Format(time.RFC3339),
			ShortDuration(time.Duration(s.ExpectedDuration)), start.UTC().Format(time.RFC3339))
	}
	return nil
}

func (s JobSpec) validateContainer() error {
	switch {
	case s.Image == "":
		return fieldErr("image", "is required")
	case len(s.Image) > maxShortString:
		return fieldErr("image", "is longer than %d characters", maxShortString)
	case len(s.Name) > maxShortString:
		return fieldErr("name", "is longer than %d characters", maxShortString)
	case len(s.Command) > MaxCommandArgs:
		return fieldErr("command", "has more than %d arguments", MaxCommandArgs)
	case len(s.Env) > MaxEnv:
		return fieldErr("env", "has more than %d variables", MaxEnv)
	}
	if err := checkImage(s.Image); err != nil {
		return fieldErr("image", "%q is not a valid image reference: %v", s.Image, err)
	}
	if err := checkPrintable(s.Name); err != nil {
		return fieldErr("name", "%v", err)
	}
	for i, a := range s.Command {
		if len(a) > maxLongString || strings.ContainsRune(a, 0) {
			return fieldErr("command", "argument %d is longer than %d bytes or holds a NUL byte", i, maxLongString)
		}
	}
	for k, v := range s.Env {
		if !envKeyRe.MatchString(k) || len(k) > maxShortString {
			return fieldErr("env", "%q is not a valid variable name", k)
		}
		if strings.HasPrefix(k, "BERTH_") {
			return fieldErr("env."+k, "names starting with BERTH_ are reserved")
		}
		if len(v) > maxLongString || strings.ContainsRune(v, 0) {
			return fieldErr("env."+k, "is longer than %d bytes or holds a NUL byte", maxLongString)
		}
	}
	return nil
}

func (s JobSpec) validateResources() error {
	switch {
	case s.CPU < 0 || s.CPU != s.CPU:
		return fieldErr("cpu", "must be positive")
	case s.CPU > MaxCPU:
		return fieldErr("cpu", "%g vCPUs is more than the limit of %d", s.CPU, MaxCPU)
	case s.CPU != 0 && s.CPU < 0.01:
		return fieldErr("cpu", "must be at least 0.01 vCPU")
	case s.MemoryMB < 0:
		return fieldErr("memory_mb", "must be positive")
	case s.MemoryMB != 0 && s.MemoryMB < MinMemoryMB:
		return fieldErr("memory_mb", "must be at least %d", MinMemoryMB)
	case s.MemoryMB > MaxMemoryMB:
		return fieldErr("memory_mb", "%d MB is more than the limit of %d", s.MemoryMB, MaxMemoryMB)
	case s.PIDs < 0:
		return fieldErr("pids", "must be positive")
	case s.PIDs > MaxPIDs:
		return fieldErr("pids", "%d is more than the limit of %d", s.PIDs, MaxPIDs)
	case s.Timeout < 0:
		return fieldErr("timeout", "must not be negative")
	case s.Timeout != 0 && time.Duration(s.Timeout) < time.Second:
		return fieldErr("timeout", "must be at least 1s")
	case time.Duration(s.Timeout) > MaxTimeout:
		return fieldErr("timeout", "must be at most %s", MaxTimeout)
	}
	return nil
}

func (s JobSpec) validateMeta() error {
	switch {
	case s.Priority < -MaxPriority || s.Priority > MaxPriority:
		return fieldErr("priority", "must be between %d and %d", -MaxPriority, MaxPriority)
	case len(s.Labels) > MaxLabels:
		return fieldErr("labels", "has more than %d labels", MaxLabels)
	case len(s.IdempotencyKey) > maxShortString:
		return fieldErr("idempotency_key", "is longer than %d characters", maxShortString)
	case s.RunAt != nil && (s.RunAt.Year() < 2000 || s.RunAt.Year() > 9999):
		return fieldErr("run_at", "%s is out of range", s.RunAt.Format(time.RFC3339))
	}
	for k, v := range s.Labels {
		if !labelKeyRe.MatchString(k) {
			return fieldErr("labels", "%q is not a valid label key (letters, digits, . _ / -; at most 63)", k)
		}
		if field, ok := RenamedLabels[k]; ok {
			return fieldErr("labels."+k, "is no longer a label: set the job's %s field", field)
		}
		if strings.HasPrefix(k, ReservedLabelPrefix) {
			return fieldErr("labels."+k, "label keys under %q are berth's own", ReservedLabelPrefix)
		}
		if len(v) > maxShortString {
			return fieldErr("labels."+k, "is longer than %d characters", maxShortString)
		}
		if err := checkPrintable(v); err != nil {
			return fieldErr("labels."+k, "%v", err)
		}
	}
	if s.CallbackURL != "" {
		u, err := url.Parse(s.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s.CallbackURL) > 2048 {
			return fieldErr("callback_url", "must be an absolute http or https URL")
		}
		if u.User != nil {
			return fieldErr("callback_url", "must not hold a user name or password: verify the X-Berth-Signature of the body instead")
		}
	}
	return s.validatePlacement()
}

// validatePlacement checks the options of placement.
func (s JobSpec) validatePlacement() error {
	switch {
	case s.Pool != "" && !ValidPoolName(s.Pool):
		return fieldErr("pool", "%q is not a pool name (lower-case letters, digits, - and _, at most 63)", s.Pool)
	case s.StartBudget != nil && *s.StartBudget < 0:
		return fieldErr("start_budget", "must not be negative")
	case s.StartBudget != nil && time.Duration(*s.StartBudget) > MaxStartBudget:
		return fieldErr("start_budget", "must be at most %s", ShortDuration(MaxStartBudget))
	case s.Retain != nil && time.Duration(*s.Retain) < MinRetain:
		return fieldErr("retain", "must be at least %s", ShortDuration(MinRetain))
	}
	return nil
}

// checkPrintable reports why s is not printable text: it is not UTF-8, or
// it holds a character that is not graphic (a control character such as
// NUL, tab or newline, or a format character such as a bidirectional
// override), which would garble or disguise it where it is shown.
func checkPrintable(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("is not valid UTF-8")
	}
	for _, r := range s {
		if !unicode.IsGraphic(r) {
			return fmt.Errorf("holds %U, which is not a printable character", r)
		}
	}
	return nil
}

// CheckJSON reports, as a *FieldError, a field that doc, the JSON document
// s was decoded from, gives as zero where leaving it out means a default:
// cpu, memory_mb, pids and timeout. Once decoded, an explicit 0 and a
// missing field are the same value, which Validate takes as the default;
// a user who writes 0 means something else (no limit, no time), so the
// document is refused instead. It checks nothing else: decode doc (strictly)
// and call Validate as well.
func (JobSpec) CheckJSON(doc []byte) error {
	var cpu, memory, pids, timeout []byte // the last of each, as encoding/json takes it
	ok := eachJSONField(doc, func(name, value []byte) {
		switch {
		case bytes.EqualFold(name, []byte("cpu")):
			cpu = value
		case bytes.EqualFold(name, []byte("memory_mb")):
			memory = value
		case bytes.EqualFold(name, []byte("pids")):
			pids = value
		case bytes.EqualFold(name, []byte("timeout")):
			timeout = value
		}
	})
	switch {
	case !ok:
		return &FieldError{Problem: "want a job spec as a JSON object"}
	case givenZero(cpu):
		return fieldErr("cpu", "must be more than 0; leave it out for the default of %g vCPU", float64(DefaultCPU))
	case givenZero(memory):
		return fieldErr("memory_mb", "must be more than 0; leave it out for the default of %d MB", DefaultMemoryMB)
	case givenZero(pids):
		return fieldErr("pids", "must be more than 0; leave it out for the default of %d", DefaultPIDs)
	case givenZeroDuration(timeout):
		return fieldErr("timeout", "must be more than 0s; leave it out for no timeout")
	}
	return nil
}

// givenZero reports whether value, the raw JSON of a number field, is 0.
// A missing field (nil) and null leave the field unset: they are not
// zeros given.
func givenZero(value []byte) bool {
	if len(value) == 0 || value[0] == '"' || value[0] == 'n' {
		return false
	}
	// A number without an exponent is 0 only if all its digits are: most
	// are not, and need no decoding to tell. (With an exponent, 1e-400 is
	// 0 too, to a float64.)
	if bytes.ContainsAny(value, "123456789") && !bytes.ContainsAny(value, "eE") {
		return false
	}
	var f float64
	return json.Unmarshal(value, &f) == nil && f == 0
}

// givenZeroDuration reports whether value, the raw JSON of a Duration
// field, is a duration of 0 ("0s", "0h0m").
func givenZeroDuration(value []byte) bool {
	if len(value) < 2 || value[0] != '"' {
		return false
	}
	if bytes.IndexByte(value, '\\') < 0 {
		d, err := ParseDuration(string(value[1 : len(value)-1]))
		return err == nil && d == 0
	}
	var d Duration
	return json.Unmarshal(value, &d) == nil && d == 0
}

// Validate reports the first problem with p as a *FieldError.
func (p RetryPolicy) Validate() error {
	switch {
	case p.Attempts < 0 || p.Attempts > MaxRetries:
		return fieldErr("attempts", "must be between 0 and %d", MaxRetries)
	case p.Backoff < 0 || time.Duration(p.Backoff) > MaxBackoff:
		return fieldErr("backoff", "must be between 0s and %s", MaxBackoff)
	case p.MaxBackoff < 0 || time.Duration(p.MaxBackoff) > MaxBackoff:
		return fieldErr("max_backoff", "must be between 0s and %s", MaxBackoff)
	case p.MaxBackoff != 0 && p.MaxBackoff < p.Backoff:
		return fieldErr("max_backoff", "must not be less than backoff")
	case len(p.OnExitCodes) > 256:
		return fieldErr("on_exit_codes", "has more than 256 codes")
	}
	for _, c := range p.OnExitCodes {
		if c < 1 || c > 255 {
			return fieldErr("on_exit_codes", "%d is not an exit code of a failure (1-255)", c)
		}
	}
	return nil
}
