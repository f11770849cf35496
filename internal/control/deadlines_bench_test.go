package control

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider/fakecloud"
	"github.com/berth-run/berth/internal/store"
)

// BenchmarkDeadlineRound measures what the deadline policy adds to a
// dispatch round with a full window of queued jobs that have a deadline
// (10,000, half of them re-queued once): reading their attempts and
// deciding a market for each.
func BenchmarkDeadlineRound(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if _, err := st.UpsertNode(ctx, berth.Node{ID: "n1", Name: "n1", Pool: "od", State: berth.NodeReady, Healthy: true, CPU: 1e6, MemoryMB: 1 << 40}, now); err != nil {
		b.Fatal(err)
	}
	due := now.Add(6 * time.Hour)
	for i := range 10000 {
		j, _, err := st.CreateJob(ctx, berth.JobSpec{Image: "busybox", Deadline: &due, ExpectedDuration: berth.Duration(time.Duration(1+i%4) * time.Hour),
			Checkpoint: berth.CheckpointOnSigterm, Labels: map[string]string{"i": fmt.Sprint(i)}}.WithDefaults(), now)
		if err != nil {
			b.Fatal(err)
		}
		if i%2 == 1 {
			att := berth.NewID("att", now)
			if _, err := st.Place(ctx, []store.Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: "n1", AttemptID: att}}, now); err != nil {
				b.Fatal(err)
			}
			if _, err := st.AttemptStarted(ctx, att, "c", now); err != nil {
				b.Fatal(err)
			}
			if _, err := st.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Lost, Reason: "spot reclaimed"}, now.Add(20*time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
	}
	queued, err := st.Queued(ctx, 10000)
	if err != nil || len(queued) != 10000 {
		b.Fatalf("queued %d, %v", len(queued), err)
	}
	cloud := fakecloud.New(fakecloud.Config{})
	var pools []FleetPool
	for _, s := range []berth.PoolSpec{spotPool(), onDemandPool()} {
		s = s.WithDefaults()
		pools = append(pools, FleetPool{Spec: s, Provider: cloud.Pool(s)})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := NewFleet(FleetConfig{}, pools, st, NewRegistry(st, NewNotifier(), func() {}, log), log)
	d := &deadlines{cfg: DeadlineConfig{}.withDefaults(), fleet: f}
	at := now.Add(30 * time.Minute)
	b.ResetTimer()
	for b.Loop() {
		out, _, err := d.queued(ctx, st, queued, at)
		if err != nil || len(out) == 0 {
			b.Fatal(len(out), err)
		}
	}
}
