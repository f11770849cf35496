package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	berth "github.com/berth-run/berth"
)

// maxGroup bounds how many CreateJob calls one transaction commits.
const maxGroup = 512

// createReq is one CreateJob call waiting for the group commit.
type createReq struct {
	job     berth.Job
	spec    []byte         // job.JobSpec as JSON
	secrets any            // its secret_env column: sealed values, or nil
	done    chan createRes // buffered: the loop never waits for the caller
}

// createRes is what the group commit answers a createReq.
type createRes struct {
	job     berth.Job
	created bool
	err     error
}

// commitLoop takes CreateJob calls and commits them in groups: it takes
// the first call that arrives, then every call already waiting (up to
// maxGroup), and commits them in one transaction. While it commits, new
// calls wait and form the next group, so the number of fsyncs stays at
// about one per commit time however many callers there are. It returns
// when the store closes.
func (s *Store) commitLoop() {
	defer close(s.loopDone)
	group := make([]*createReq, 0, maxGroup)
	for {
		select {
		case r := <-s.creates:
			group = append(group[:0], r)
		case <-s.quit:
			return
		}
	gather:
		for len(group) < maxGroup {
			select {
			case r := <-s.creates:
				group = append(group, r)
			default:
				break gather
			}
		}
		s.commitGroup(group)
		clear(group)
	}
}

// commitGroup commits the group and answers each call. If the group fails,
// each call is committed on its own, so that one bad call fails alone.
func (s *Store) commitGroup(group []*createReq) {
	res, err := s.insertGroup(group)
	if err == nil {
		s.groups.Add(1)
	}
	if err != nil && len(group) > 1 {
		for _, r := range group {
			s.commitGroup([]*createReq{r})
		}
		return
	}
	for i, r := range group {
		if err != nil {
			r.done <- createRes{err: err}
			continue
		}
		r.done <- res[i]
	}
}

// insertGroup inserts the group's jobs in one transaction. A call whose
// idempotency key names a stored job, or a job earlier in the group, gets
// that job back instead.
func (s *Store) insertGroup(group []*createReq) ([]createRes, error) {
	// The commit is not the caller's to cancel: it answers many callers.
	ctx := context.Background()
	res := make([]createRes, len(group))
	err := s.write(ctx, func(tx *sql.Tx) error {
		ins := s.insertStmtsOf(ctx, tx)
		byKey := tx.StmtContext(ctx, s.jobByKey)
		for i, r := range group {
			// The lookup runs inside the transaction, so it also finds a
			// job inserted earlier in this group.
			if key := r.job.IdempotencyKey; key != "" {
				var id string
				err := byKey.QueryRowContext(ctx, key).Scan(&id)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("idempotency key %q: %w", key, err)
				}
				if err == nil {
					j, err := loadJob(ctx, tx, id)
					if err != nil {
						return err
					}
					res[i] = createRes{job: j}
					continue
				}
			}
			if err := ins.insert(ctx, &r.job, r.spec, r.secrets); err != nil {
				return err
			}
			res[i] = createRes{job: r.job, created: true}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
