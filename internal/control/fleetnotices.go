package control

import (
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/store"
)

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
		f.mu.Lock()
		f.interrupted(n.Pool, ins[i].InstanceType, id, now.Add(berth.SpotNotice), now)
		f.mu.Unlock()
	}
}
