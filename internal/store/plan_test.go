package store

import (
	"fmt"
	"strings"
	"testing"

	berth "github.com/berth-run/berth"
)

// TestQueryPlans checks that the queries that run often, or over many
// jobs, walk an index: no full scan of a table that grows with the jobs
// (nodes may be scanned), and no sort of a whole result.
func TestQueryPlans(t *testing.T) {
	s, _ := openStore(t)
	type query struct {
		name      string
		sql       string
		args      []any
		sortsFine bool   // the result it sorts is small by nature
		index     string // the index the plan must use, if one must
	}
	var queries []query
	for _, f := range []JobFilter{
		{},
		{Cursor: "job_x"},
		{State: berth.Queued},
		{State: berth.Queued, Cursor: "job_x"},
		{Labels: map[string]string{"a": "1"}},
		{Labels: map[string]string{"a": "1", "b": "2"}, State: berth.Running, Cursor: "job_x"},
		{ScheduleID: "sch_1"},
		{ScheduleID: "sch_1", State: berth.Failed, Cursor: "job_x"},
	} {
		q, args := listQuery(f, 101)
		queries = append(queries, query{name: fmt.Sprintf("ListJobs(%+v)", f), sql: q, args: args})
	}
	queries = append(queries,
		query{name: "Queued", sql: queuedSQL, index: "jobs_queued"},
		query{name: "NextDue", sql: nextDueSQL, index: "jobs_due"},
		query{name: "ReleaseDue", sql: releaseDueSQL, index: "jobs_due"},
		query{name: "Assignments", sql: assignmentsSQL},
		query{name: "DueCallbacks", sql: dueCallbacksSQL},
		query{name: "DueSchedules", sql: dueSchedulesSQL},
		query{name: "openJobs", sql: openJobsSQL, sortsFine: true, index: "jobs_schedule_open"},
		query{name: "loadNode", sql: nodeSelect + ` WHERE n.id = ? GROUP BY n.id`},
		query{name: "Nodes", sql: nodeSelect + ` WHERE n.state != 'gone' GROUP BY n.id ORDER BY n.id`},
	)
	for _, q := range queries {
		args := q.args
		if args == nil {
			for range strings.Count(q.sql, "?") {
				args = append(args, "x")
			}
		}
		rows, err := s.r.Query(`EXPLAIN QUERY PLAN `+q.sql, args...)
		if err != nil {
			t.Fatalf("plan of %s: %v", q.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		t.Logf("%s: %s", q.name, text)
		if !strings.Contains(text, " INDEX "+q.index) {
			t.Errorf("plan of %s does not use index %s: %s", q.name, q.index, text)
		}
		for _, d := range plan {
			// Walking an index in order is fine: the LIMIT ends the walk.
			scan := strings.HasPrefix(d, "SCAN ") && !strings.Contains(d, " USING ") && !strings.HasPrefix(d, "SCAN n")
			if scan || (!q.sortsFine && strings.Contains(d, "TEMP B-TREE")) {
				t.Errorf("plan of %s scans or sorts: %s", q.name, text)
				break
			}
		}
	}
}
