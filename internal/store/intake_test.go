package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// TestIntakeRefusals: refusals come back newest first, per queue or all,
// and each queue keeps only its last KeepRefusals.
func TestIntakeRefusals(t *testing.T) { forEachStore(t, testIntakeRefusals) }

func testIntakeRefusals(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t)
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var batch []berth.IntakeRefusal
	for i := range KeepRefusals + 5 {
		batch = append(batch, berth.IntakeRefusal{Queue: "a", MessageID: fmt.Sprintf("m%d", i), ReceivedAt: at, Receives: 1, Reason: "empty body"})
	}
	if err := s.RefuseIntake(ctx, batch); err != nil {
		t.Fatal(err)
	}
	b := berth.IntakeRefusal{Queue: "b", MessageID: "x", ReceivedAt: at.Add(time.Second), Receives: 3, Reason: "not JSON", Excerpt: "garbage"}
	if err := s.RefuseIntake(ctx, []berth.IntakeRefusal{b}); err != nil {
		t.Fatal(err)
	}
	all, err := s.IntakeRefusals(ctx, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0] != b || all[1].MessageID != fmt.Sprintf("m%d", KeepRefusals+4) {
		t.Errorf("IntakeRefusals(all, 2) = %+v, want b then a's last", all)
	}
	a, err := s.IntakeRefusals(ctx, "a", 2*KeepRefusals)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != KeepRefusals || a[len(a)-1].MessageID != "m5" {
		t.Errorf("queue a keeps %d refusals, the oldest %s; want %d, the oldest m5", len(a), a[len(a)-1].MessageID, KeepRefusals)
	}
}
