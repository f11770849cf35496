// Package archtest holds the tests that keep berth's architecture in shape,
// so that it is held by tests rather than by comments: the packages that
// decide (the root package, scheduler, autoscale, cost and deadline) import
// only the standard library and the root package, read no clock, start no
// goroutine and touch no file or network; the server's loops do not link
// the offline evaluation of the deadline policies; the store holds no wire
// types of the API or the agent protocol; and every package has a doc
// comment.
//
// The package has no code of its own, only tests. They read the module's
// source with go/parser and its dependency graph with `go list -deps`.
package archtest
