// Package e2e holds berth's end-to-end tests: they build the berth binary,
// run `berth server` as a real process on the local Docker engine, and
// drive it through its REST API and CLI, killing and restarting it.
package e2e
