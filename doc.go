// Package berth holds the domain of berth: jobs and their specs, attempts,
// schedules and nodes, their states and their validation.
//
// berth runs Docker containers on a fleet of machines at the lowest cost that
// still meets each job's deadline. This package is the vocabulary shared by the
// store, the scheduler, the control loops, the REST API and the CLI. It imports
// only the standard library and does no I/O.
package berth
