// Package control runs berth's loops: dispatch (place queued jobs on
// nodes), schedules (cron), and callback delivery; and serves the node
// agents' side of the protocol (Local) over the store.
//
// Each loop is thin: it reads a snapshot from the store, calls pure code
// (internal/scheduler, internal/cron, berth.Next) and writes the result
// back in one conditional transaction. Loops log their own errors and carry
// on; only a cancelled context stops them.
package control
