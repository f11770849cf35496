package strict_test

import (
	"errors"
	"testing"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/strict"
)

// given is a Checker that notes the document it was shown and refuses
// one that holds no "n".
type given struct {
	N    int `json:"n"`
	seen string
}

func (g *given) CheckJSON(doc []byte) error {
	g.seen = string(doc)
	if g.N == 0 && string(doc) == `{}` {
		return &berth.FieldError{Field: "n", Problem: "is required"}
	}
	return nil
}

// TestChecker: a Checker sees the document once it has decoded, as JSON
// even when it was written as YAML, and its error is the decoding's.
func TestChecker(t *testing.T) {
	var g given
	if err := strict.Decode([]byte("n: 2\n"), &g); err != nil || g.N != 2 || g.seen != `{"n":2}` {
		t.Errorf("Decode(n: 2) = %v, n %d, checked %q; want nil, 2, the document as JSON", err, g.N, g.seen)
	}
	g = given{}
	var fe *berth.FieldError
	if err := strict.DecodeJSON([]byte(`{}`), &g); !errors.As(err, &fe) || fe.Field != "n" {
		t.Errorf("DecodeJSON({}) = %v, want the Checker's error on n", err)
	}
	g = given{}
	if err := strict.DecodeJSON([]byte(`{"n":"x"}`), &g); err == nil || g.seen != "" {
		t.Errorf("DecodeJSON of a wrong kind = %v, checked %q; want a decoding error, no check", err, g.seen)
	}
}

// TestScheduleJobChecked: a schedule's job template is checked as a job is.
func TestScheduleJobChecked(t *testing.T) {
	var s berth.ScheduleSpec
	err := strict.DecodeJSON([]byte(`{"cron":"@daily","job":{"image":"busybox","cpu":0}}`), &s)
	var fe *berth.FieldError
	if !errors.As(err, &fe) || fe.Field != "job.cpu" {
		t.Errorf("DecodeJSON(schedule with cpu 0) = %v, want an error on job.cpu", err)
	}
}
