package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

// runStatus runs `berth status ID`: the job in detail, with its attempts.
func runStatus(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "status", "status [-o json] ID")
	var out output
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(env, fs, "want one job ID")
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	job, err := c.Job(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if out.json() {
		return printJSON(env.stdout, job)
	}
	return writeJob(env.stdout, job, env.clock(), env.width)
}

// usd formats a cost in US dollars: "$0.0123".
func usd(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v < 0.01:
		return fmt.Sprintf("$%.6f", v)
	}
	return fmt.Sprintf("$%.4f", v)
}

// writeJob prints the job as "Key: value" lines, then its attempts as a
// table.
func writeJob(w io.Writer, cj client.Job, now time.Time, width int) error {
	j := cj.Job
	var d details
	d.add("ID", j.ID)
	d.add("Name", j.Name)
	d.add("Image", j.Image)
	d.add("Command", shellJoin(j.Command))
	d.add("State", string(j.State))
	d.add("Reason", j.Reason)
	if j.ExitCode != nil {
		d.add("Exit code", strconv.Itoa(*j.ExitCode))
	}
	d.add("Resources", fmt.Sprintf("%s, %s memory", cpu(j.CPU), mem(j.MemoryMB)))
	if j.Timeout != 0 {
		d.add("Timeout", berth.ShortDuration(time.Duration(j.Timeout)))
	}
	d.add("Retries", retries(j))
	if j.Requeued > 0 {
		d.add("Re-queued", fmt.Sprintf("%d (after losing capacity; not counted as retries)", j.Requeued))
	}
	if j.Priority != 0 {
		d.add("Priority", strconv.Itoa(j.Priority))
	}
	d.add("Labels", joinMap(j.Labels, true))
	d.add("Env", joinMap(j.Env, false))
	d.add("Secret env", joinMap(j.SecretEnv, false))
	d.add("Schedule", j.ScheduleID)
	d.add("Idempotency key", j.IdempotencyKey)
	d.addTime("Run at", j.RunAt, now)
	if j.NotBefore != nil && (j.RunAt == nil || !j.NotBefore.Equal(*j.RunAt)) && j.State == berth.Scheduled {
		d.addTime("Not before", j.NotBefore, now)
	}
	if j.CallbackSent {
		d.add("Callback", j.CallbackURL+" (sent)")
	} else {
		d.add("Callback", j.CallbackURL)
	}
	if len(j.Result) > 0 {
		d.add("Result", string(j.Result))
	}
	d.add("Deadline", deadlineLine(j))
	d.addTime("Created", &j.CreatedAt, now)
	d.addTime("Finished", j.FinishedAt, now)
	if len(j.Attempts) > 0 {
		d.add("Cost", usd(cj.CostUSD))
	}
	if err := d.write(w); err != nil {
		return err
	}
	if len(j.Attempts) == 0 {
		return nil
	}
	t := newTable("ATTEMPT", "NODE", "STARTED", "RAN", "EXIT", "REASON")
	for _, a := range j.Attempts {
		started, ran := "-", "-"
		if a.StartedAt != nil {
			started = age(now, *a.StartedAt) + " ago"
			end := now
			if a.FinishedAt != nil {
				end = *a.FinishedAt
			}
			ran = berth.ShortDuration(end.Sub(*a.StartedAt).Round(time.Second))
		}
		exit := "-"
		if a.ExitCode != nil {
			exit = strconv.Itoa(*a.ExitCode)
		}
		t.add(a.ID, orDash(a.Node), started, ran, exit, oneLine(a.Reason))
	}
	var b bytes.Buffer
	if err := t.write(&b, max(0, width-2)); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nAttempts:")
	for line := range strings.Lines(b.String()) {
		if _, err := io.WriteString(w, "  "+line); err != nil {
			return err
		}
	}
	return nil
}

// deadlineLine describes the job's deadline: "2026-05-01T08:00:00Z
// (expected 2h, checkpoint on-sigterm), met with 40m to spare".
func deadlineLine(j berth.Job) string {
	if j.Deadline == nil {
		return ""
	}
	s := fmt.Sprintf("%s (expected %s, checkpoint %s)", j.Deadline.UTC().Format(time.RFC3339),
		berth.ShortDuration(time.Duration(j.ExpectedDuration)), orDash(j.Checkpoint))
	if j.State == berth.Succeeded && j.FinishedAt != nil {
		if late := j.FinishedAt.Sub(*j.Deadline); late > 0 {
			s += ", missed by " + berth.ShortDuration(late.Round(time.Second))
		} else {
			s += ", met with " + berth.ShortDuration(-late.Round(time.Second)) + " to spare"
		}
	}
	return s
}

// details is a list of "Key: value" lines with the values aligned. Empty
// values are left out; the others are escaped as table cells are.
type details struct{ keys, values []string }

func (d *details) add(key, value string) {
	if value != "" {
		d.keys, d.values = append(d.keys, key), append(d.values, escape(value))
	}
}

func (d *details) addTime(key string, t *time.Time, now time.Time) {
	if t == nil || t.IsZero() {
		return
	}
	rel := age(now, *t) + " ago"
	if t.After(now) {
		rel = "in " + age(*t, now)
	}
	d.add(key, fmt.Sprintf("%s (%s)", t.Format(time.RFC3339), rel))
}

func (d *details) write(w io.Writer) error {
	width := 0
	for _, k := range d.keys {
		width = max(width, len(k)+1)
	}
	for i, k := range d.keys {
		if _, err := fmt.Fprintf(w, "%-*s %s\n", width, k+":", d.values[i]); err != nil {
			return err
		}
	}
	return nil
}

// retries describes the job's retry policy and what it has used of it.
func retries(j berth.Job) string {
	p := j.Retries
	if p.Attempts == 0 {
		return "none"
	}
	s := fmt.Sprintf("%d of %d used", j.Retried, p.Attempts)
	if p.Backoff != 0 {
		s += "; backoff " + berth.ShortDuration(time.Duration(p.Backoff))
	}
	if p.MaxBackoff != 0 {
		s += " up to " + berth.ShortDuration(time.Duration(p.MaxBackoff))
	}
	if len(p.OnExitCodes) > 0 {
		codes := intsFlag(p.OnExitCodes)
		s += "; only on exit codes " + codes.String()
	}
	return s
}

// joinMap writes a map as sorted "k=v" pairs, or its keys alone when
// withValues is false (environment values may be secrets).
func joinMap(m map[string]string, withValues bool) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if withValues {
			k += "=" + m[k]
		}
		parts = append(parts, k)
	}
	return strings.Join(parts, ", ")
}

// shellJoin writes a command the way a shell would read it back.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
