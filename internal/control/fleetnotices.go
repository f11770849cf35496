package control

import (
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/store"
)

// spotNoticed records, once per instance, that Spot gave instance in of
// pool its notice, to be reclaimed at at: the type is avoided for a
// while, and the notice counts in its interruption rate. It reports
// whether the notice was recorded before.
func (f *Fleet) spotNoticed(pool string, in provider.Instance, at, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, seen := f.noticed[in.ID]; seen {
		return true
	}
	f.noticed[in.ID] = at
	key := [2]string{pool, in.InstanceType}
	f.notices[key] = append(f.notices[key], now)
	f.avoidType(pool, in.InstanceType, now)
	return false
}

// heardNotices records the Spot notices that the agents of the pools'
// instances reported and the providers' lists do not show, as retire
// records those they show: EC2 tells an interruption only to the
// instance, through its metadata service, and its agent tells berth. So a
// replacement is not launched into the capacity that Spot is taking back.
func (f *Fleet) heardNotices(lists map[string][]provider.Instance, nodes []store.NodeInfo, now time.Time) {
	for _, n := range nodes {
		id := n.Facts.InstanceID
		if n.Notice != nodeapi.SpotInterruption || id == "" {
			continue
		}
		ins := lists[n.Pool]
		i := slices.IndexFunc(ins, func(in provider.Instance) bool { return in.ID == id })
		if i < 0 || ins[i].State == provider.InstanceTerminated {
			continue
		}
		f.spotNoticed(n.Pool, ins[i], now.Add(berth.SpotNotice), now)
	}
}
