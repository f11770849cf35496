package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// cli runs the berth CLI against s and returns its stdout, stderr and exit
// code.
func (s *server) cli(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "BERTH_ADDR=http://"+s.addr, "BERTH_DATA="+s.data, "BERTH_TOKEN=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestCLI drives the CLI as a user would, against a real server: it finds
// the token by itself from the data directory.
func TestCLI(t *testing.T) {
	s := startServer(t)
	out, _, code := s.cli(t, "", "run", s.image, "--", "sh", "-c", "echo hello; exit 7")
	if code != 7 || out != "hello\n" {
		t.Errorf("berth run: exit %d, output %q; want 7 and hello", code, out)
	}
	_, stderr, code := s.cli(t, "", "run", "berth-test/absent:1", "--", "true")
	if code != 125 || !strings.Contains(stderr, "not found") {
		t.Errorf("berth run of a missing image: exit %d, stderr %q; want 125 saying not found", code, stderr)
	}

	yaml := "image: " + s.image + "\ncommand: [sh, -c, 'echo from yaml']\nlabels: {source: yaml}\n"
	out, _, code = s.cli(t, yaml, "submit", "-f", "-")
	id := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(id, "job_") {
		t.Fatalf("berth submit -f -: exit %d, output %q", code, out)
	}
	s.waitTerminal(id, 30*time.Second)
	out, _, _ = s.cli(t, "", "logs", id)
	if out != "from yaml\n" {
		t.Errorf("berth logs = %q, want the job's output", out)
	}
	_, stderr, code = s.cli(t, "image: x\ncolour: blue\n", "submit", "-f", "-")
	if code == 0 || !strings.Contains(stderr, "colour") {
		t.Errorf("submit with an unknown field: exit %d, stderr %q; want a failure naming colour", code, stderr)
	}

	out, _, code = s.cli(t, "", "jobs", "--label", "source=yaml", "-o", "json")
	var page struct{ Jobs []berth.Job }
	if code != 0 || json.Unmarshal([]byte(out), &page) != nil || len(page.Jobs) != 1 || page.Jobs[0].ID != id {
		t.Errorf("berth jobs --label source=yaml -o json: exit %d, %q", code, out)
	}

	out, _, code = s.cli(t, "", "schedules", "create", "--cron", "0 2 * * *", "--time-zone", "Europe/Paris", "--concurrency", "forbid", s.image, "--", "true")
	if code != 0 {
		t.Fatalf("berth schedules create: exit %d, %q", code, out)
	}
	out, _, _ = s.cli(t, "", "schedules", "-o", "json")
	var list struct{ Schedules []berth.Schedule }
	if json.Unmarshal([]byte(out), &list) != nil || len(list.Schedules) != 1 || list.Schedules[0].Concurrency != berth.Forbid {
		t.Errorf("berth schedules -o json = %q, want the one schedule", out)
	}
	_, stderr, code = s.cli(t, "", "schedules", "create", "--cron", "not cron", s.image)
	if code == 0 || !strings.Contains(stderr, "cron") {
		t.Errorf("schedules create with a bad cron: exit %d, stderr %q", code, stderr)
	}

	_, stderr, code = s.cli(t, "", "status", "job_nope")
	if code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("berth status of an unknown job: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(s.data, "admin.token")); err != nil {
		t.Fatal(err)
	}
}
