package main

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

// TestListJSON: -o json of every list command prints the API's list
// object, byte for byte as encoding its list type does.
func TestListJSON(t *testing.T) {
	f := newFakeAPI(t)
	f.nodes = testNodes()
	f.pools = []client.Pool{{Name: "default", JoinToken: "bjt_default"}}
	f.schedules = []berth.Schedule{{ID: "sch_1", ScheduleSpec: berth.ScheduleSpec{Cron: "@hourly", Job: berth.JobSpec{Image: "busybox"}}, CreatedAt: t0}}
	for _, j := range sampleJobs() {
		f.addJob(j)
	}
	encode := func(v any) string {
		var b bytes.Buffer
		if err := printJSON(&b, v); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"nodes"}, encode(struct {
			Nodes []client.Node `json:"nodes"`
		}{f.nodes})},
		{[]string{"pools"}, encode(struct {
			Pools []client.Pool `json:"pools"`
		}{f.pools})},
		{[]string{"schedules"}, encode(struct {
			Schedules []berth.Schedule `json:"schedules"`
		}{f.schedules})},
		{[]string{"jobs", "--limit", "2"}, encode(client.JobPage{Jobs: f.jobs[:2], NextCursor: "2"})},
		{[]string{"jobs", "--all", "--limit", "2"}, encode(client.JobPage{Jobs: f.jobs})},
	}
	for _, tt := range tests {
		r := f.cli(t, append(tt.args, "-o", "json")...).mustSucceed(t)
		if diff := cmp.Diff(tt.want, r.stdout); diff != "" {
			t.Errorf("berth %v -o json (-want +got):\n%s", tt.args, diff)
		}
	}
}

// TestListEmptyJSON: an empty list is [], never null.
func TestListEmptyJSON(t *testing.T) {
	f := newFakeAPI(t)
	for cmd, want := range map[string]string{
		"nodes":     "{\n  \"nodes\": []\n}\n",
		"pools":     "{\n  \"pools\": []\n}\n",
		"schedules": "{\n  \"schedules\": []\n}\n",
	} {
		if r := f.cli(t, cmd, "-o", "json").mustSucceed(t); r.stdout != want {
			t.Errorf("berth %s -o json = %q, want %q", cmd, r.stdout, want)
		}
	}
}
