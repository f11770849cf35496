package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestDatabaseGoesAway: with its PostgreSQL database out of reach the API
// answers 503 with a reason and writes nothing; when the database is back,
// submitting works again within a few tries.
func TestDatabaseGoesAway(t *testing.T) {
	proxy, u := pgtest.NewProxy(t, pgtest.URL(t))
	p := newPlaneOn(t, Limits{}, httptest.NewServer, u)
	submit := func() (int, errorBody) {
		t.Helper()
		code, body := p.do(t, p.admin, "POST", "/v1/jobs", berth.JobSpec{Image: "busybox"})
		var e apiError
		json.Unmarshal(body, &e) //nolint:errcheck // a 201's body has no error
		return code, e.Error
	}
	if code, body := submit(); code != http.StatusCreated {
		t.Fatalf("POST /v1/jobs = %d %v, want 201", code, body)
	}

	proxy.Cut()
	code, body := submit()
	if code != http.StatusServiceUnavailable {
		t.Fatalf("POST /v1/jobs with the database gone = %d %v, want 503", code, body)
	}
	if body.Code != "unavailable" || body.Message == "" {
		t.Errorf("503 body = %v, want code unavailable and a reason", body)
	}

	// The connections the cut broke are dropped as they are found broken:
	// a request may still meet one, and answer 503 again.
	proxy.Restore()
	for i := 0; ; i++ {
		code, body := submit()
		if code == http.StatusCreated {
			break
		}
		if code != http.StatusServiceUnavailable || i == 10 {
			t.Fatalf("POST /v1/jobs with the database back = %d %v, want 201", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	n, err := p.store.CountJobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, k := range n {
		total += k
	}
	if total != 2 {
		t.Errorf("jobs stored = %v, want the 2 accepted", n)
	}
}
