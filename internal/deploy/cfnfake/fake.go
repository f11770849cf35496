// Package cfnfake is an in-memory AWS CloudFormation that speaks its wire
// protocol, so that the real aws-sdk-go-v2 CloudFormation client, pointed
// at it with BaseEndpoint (or AWS_ENDPOINT_URL, or
// AWS_ENDPOINT_URL_CLOUDFORMATION) and any static credentials, works
// against it. A Fake is an http.Handler: serve it with
// httptest.NewServer.
//
// It answers the actions `berth deploy aws` uses: CreateChangeSet (types
// CREATE and UPDATE), DescribeChangeSet, ExecuteChangeSet, DescribeStacks,
// DescribeStackEvents, GetTemplate and DeleteStack, with CloudFormation's
// error codes (ValidationError, AlreadyExistsException, ChangeSetNotFound,
// InsufficientCapabilitiesException, InvalidChangeSetStatus) and HTTP
// statuses; any other action is InvalidAction. Requests are the query
// protocol (form-encoded Action=...&Version=2010-05-15, lists as
// Name.member.N); answers are XML in the 2010-05-15 namespace.
//
// A change set is ready Config.ChangeSetDelay after it is asked for. A
// stack's resources are made one at a time in the order of their
// dependencies (DependsOn, Ref, Fn::GetAtt, Fn::Sub), each taking
// Config.ResourceDelay (SetDelay), so a test can watch the events arrive.
// FailResource plants a failure: the resource ends CREATE_FAILED (or
// UPDATE_FAILED) with the reason, and the stack rolls back. DeleteStack
// deletes the resources in reverse, skipping (and keeping, see Retained)
// those whose DeletionPolicy is Retain. SetOutput gives an output the
// value a test needs. Calls lists every request answered.
//
// The fake reads the time from its Clock, time.Now unless set, and starts
// no goroutines: what a stack shows is a function of the time, its events
// scheduled when a change set is executed or the stack deleted.
package cfnfake

import (
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Config tunes a Fake; zero fields mean the default.
type Config struct {
	Region    string // default "us-east-1"
	AccountID string // default "123456789012"
	// Clock returns the time; default time.Now.
	Clock func() time.Time
	// ChangeSetDelay is how long a change set stays CREATE_IN_PROGRESS
	// before it is CREATE_COMPLETE (or FAILED); default none.
	ChangeSetDelay time.Duration
	// ResourceDelay is how long each resource takes to be created,
	// updated or deleted; default none.
	ResourceDelay time.Duration
}

// Call is one request the fake answered.
type Call struct {
	Action string
	Params url.Values // the request's parameters less Action and Version
	Code   string     // the error code answered; "" on success
	At     time.Time
}

// Resource is a resource a deleted stack left behind (DeletionPolicy
// Retain): it still exists, as in an account.
type Resource struct {
	Stack      string // the stack's name
	LogicalID  string
	PhysicalID string
	Type       string
}

// Fake is the in-memory CloudFormation. Its zero value is not usable;
// call New.
type Fake struct {
	cfg Config

	// mu guards the fields below it.
	mu         sync.Mutex
	seq        int
	delay      time.Duration
	calls      []Call
	fail       map[string]string            // planted failures: logical id → reason
	outputs    map[string]map[string]string // SetOutput: stack name → key → value
	stacks     []*stack                     // in creation order, deleted ones too
	changeSets []*changeSet
}

// New returns a fake CloudFormation with no stacks.
func New(cfg Config) *Fake {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Fake{cfg: cfg, delay: cfg.ResourceDelay, fail: map[string]string{}, outputs: map[string]map[string]string{}}
}

// Region returns the fake's region, for the client's configuration.
func (f *Fake) Region() string { return f.cfg.Region }

// SetDelay sets how long each resource of a change set executed or a
// stack deleted from now on takes.
func (f *Fake) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// FailResource plants a failure: the next time a stack creates or updates
// the resource logicalID, it fails with reason and the stack rolls back.
func (f *Fake) FailResource(logicalID, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[logicalID] = reason
}

// SetOutput makes the output key of the stack name show value, in place
// of what the template computes (a fake cannot know a server's address).
func (f *Fake) SetOutput(name, key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.outputs[name] == nil {
		f.outputs[name] = map[string]string{}
	}
	f.outputs[name][key] = value
}

// Status returns the status of the stack name now, "" when there is none
// (or it was deleted): not a request, so not logged.
func (f *Fake) Status(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Clock()
	if s := f.byName(name, now); s != nil {
		return s.status(now)
	}
	return ""
}

// Retained returns the resources deleted stacks kept, as they were
// skipped, in that order.
func (f *Fake) Retained() []Resource {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Clock()
	var out []Resource
	for _, s := range f.stacks {
		for _, e := range s.events {
			if e.status == "DELETE_SKIPPED" && !e.at.After(now) {
				out = append(out, Resource{Stack: s.name, LogicalID: e.logical, PhysicalID: e.physical, Type: e.typ})
			}
		}
	}
	return out
}

// Calls returns the requests answered so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallsOf returns the requests of action answered so far, in order.
func (f *Fake) CallsOf(action string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// newID returns a new id, shaped like the UUIDs of CloudFormation's ARNs.
// f.mu must be held.
func (f *Fake) newID() string {
	f.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", f.seq, f.seq)
}

func (f *Fake) arn(kind, name string) string {
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:%s/%s/%s", f.cfg.Region, f.cfg.AccountID, kind, name, f.newID())
}
