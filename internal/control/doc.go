// Package control runs berth's loops: dispatch (place queued jobs on
// nodes, send jobs whose start budget ran out to a serverless pool),
// autoscale (Fleet: grow and shrink the pools through their providers),
// schedules (cron), leases (the Reaper), callback delivery and retention
// (delete finished jobs once they are old enough); and serves the node
// agents' side of the protocol (Local) over the store.
//
// Each loop is thin: it reads a snapshot from the store (and, for the
// fleet, the providers' instance lists), calls pure code
// (internal/scheduler, internal/autoscale, internal/cron, berth.Next) and
// writes the result back in conditional transactions. Loops log their own
// errors and carry on; only a cancelled context stops them.
package control
