package cfnfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// stack is one stack, whose state is a function of the time: the last of
// its events that has happened says its status.
type stack struct {
	name, id     string
	created      time.Time
	updated      time.Time
	tmpl         *template // nil until a change set is executed
	params       map[string]string
	tags         [][2]string
	capabilities []string
	physical     map[string]string // the resources that exist: logical → physical id
	events       []event           // oldest first
}

// event is one stack event; logical == the stack's name for the stack's
// own.
type event struct {
	at                     time.Time
	id                     string
	logical, physical, typ string
	status, reason         string
}

const stackType = "AWS::CloudFormation::Stack"

// status returns the stack's status at now.
func (s *stack) status(now time.Time) string {
	st := "REVIEW_IN_PROGRESS"
	for _, e := range s.events {
		if e.at.After(now) {
			break
		}
		if e.typ == stackType {
			st = e.status
		}
	}
	return st
}

// reason returns the reason of the stack's status at now.
func (s *stack) reason(now time.Time) string {
	r := ""
	for _, e := range s.events {
		if e.at.After(now) {
			break
		}
		if e.typ == stackType {
			r = e.reason
		}
	}
	return r
}

// end is when the last scheduled event happens.
func (s *stack) end() time.Time {
	if len(s.events) == 0 {
		return time.Time{}
	}
	return s.events[len(s.events)-1].at
}

// byName returns the live stack called name (or whose id is name), nil
// when there is none.
func (f *Fake) byName(name string, now time.Time) *stack {
	for i := len(f.stacks) - 1; i >= 0; i-- {
		s := f.stacks[i]
		if s.id == name {
			return s
		}
		if s.name == name && s.status(now) != "DELETE_COMPLETE" {
			return s
		}
	}
	return nil
}

// inProgress reports whether status is one of an operation under way.
func inProgress(status string) bool {
	return strings.HasSuffix(status, "_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}

// sched lays out a stack's events from a time on, one resource at a time.
type sched struct {
	f *Fake
	s *stack
	t time.Time
}

func (c *sched) stack(status, reason string) { c.add(c.s.name, c.s.id, stackType, status, reason) }

func (c *sched) add(logical, physical, typ, status, reason string) {
	c.s.events = append(c.s.events, event{at: c.t, id: c.f.newID(), logical: logical, physical: physical, typ: typ, status: status, reason: reason})
}

// step is one resource's operation: verb_IN_PROGRESS, then, one delay
// later, verb_COMPLETE or, with a reason, verb_FAILED.
func (c *sched) step(logical, physical, typ, verb, failure string) {
	c.add(logical, physical, typ, verb+"_IN_PROGRESS", "")
	c.t = c.t.Add(c.f.delay)
	if failure != "" {
		c.add(logical, physical, typ, verb+"_FAILED", failure)
		return
	}
	c.add(logical, physical, typ, verb+"_COMPLETE", "")
}

// physicalID is the id a new resource gets: its name if it has one, else
// STACK-LOGICAL-SUFFIX as CloudFormation makes them.
func (f *Fake) physicalID(s *stack, logical string, r resourceDef) string {
	if r.name != "" {
		return r.name
	}
	f.seq++
	return fmt.Sprintf("%s-%s-%012X", s.name, logical, f.seq)
}

// execute lays out the events of executing cs on its stack, from now on.
func (f *Fake) execute(s *stack, cs *changeSet, now time.Time) {
	c := &sched{f: f, s: s, t: now}
	old, oldPhysical := s.tmpl, maps.Clone(s.physical)
	create := cs.typ == "CREATE"
	if create {
		c.stack("CREATE_IN_PROGRESS", "User Initiated")
	} else {
		c.stack("UPDATE_IN_PROGRESS", "User Initiated")
		s.updated = now
	}
	var done []change // what was made or changed, to roll back
	failed := ""
	for _, ch := range cs.changes {
		if ch.action == "Remove" {
			continue
		}
		r := cs.tmpl.resources[ch.logical]
		reason := f.fail[ch.logical]
		delete(f.fail, ch.logical)
		verb := "UPDATE"
		if ch.action == "Add" {
			verb = "CREATE"
			s.physical[ch.logical] = f.physicalID(s, ch.logical, r)
		}
		c.step(ch.logical, s.physical[ch.logical], r.typ, verb, reason)
		if reason != "" {
			failed = ch.logical
			done = append(done, ch)
			break
		}
		done = append(done, ch)
	}
	if failed != "" {
		f.rollback(c, cs, done, failed, old, oldPhysical)
		return
	}
	if !create {
		c.stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "")
		for _, ch := range cs.changes {
			if ch.action == "Remove" {
				f.remove(c, ch.logical, old.resources[ch.logical])
			}
		}
	}
	s.tmpl, s.params, s.tags, s.capabilities = cs.tmpl, cs.params, cs.tags, cs.capabilities
	if create {
		c.stack("CREATE_COMPLETE", "")
	} else {
		c.stack("UPDATE_COMPLETE", "")
	}
}

// rollback lays out the events of undoing done after failed failed.
func (f *Fake) rollback(c *sched, cs *changeSet, done []change, failed string, old *template, oldPhysical map[string]string) {
	s := c.s
	prefix := "ROLLBACK"
	if cs.typ == "CREATE" {
		c.stack(prefix+"_IN_PROGRESS", fmt.Sprintf("The following resource(s) failed to create: [%s]. Rollback requested by user.", failed))
	} else {
		prefix = "UPDATE_ROLLBACK"
		c.stack(prefix+"_IN_PROGRESS", fmt.Sprintf("The following resource(s) failed to update: [%s]. ", failed))
	}
	for _, ch := range slices.Backward(done) {
		r := cs.tmpl.resources[ch.logical]
		if ch.action == "Add" {
			c.step(ch.logical, s.physical[ch.logical], r.typ, "DELETE", "")
			delete(s.physical, ch.logical)
		} else {
			c.step(ch.logical, s.physical[ch.logical], r.typ, "UPDATE", "")
		}
	}
	if cs.typ == "CREATE" {
		s.tmpl, s.params, s.tags, s.capabilities = cs.tmpl, cs.params, cs.tags, cs.capabilities
		c.stack("ROLLBACK_COMPLETE", "")
		return
	}
	s.tmpl, s.physical = old, oldPhysical
	c.stack("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "")
	c.stack("UPDATE_ROLLBACK_COMPLETE", "")
}

// remove lays out a resource's deletion, or its skipping when its
// DeletionPolicy is Retain.
func (f *Fake) remove(c *sched, logical string, r resourceDef) {
	physical := c.s.physical[logical]
	delete(c.s.physical, logical)
	if r.retain {
		c.add(logical, physical, r.typ, "DELETE_SKIPPED", "")
		return
	}
	c.step(logical, physical, r.typ, "DELETE", "")
}

// outputs returns the stack's outputs at now: what its template computes,
// or what SetOutput gave.
func (f *Fake) outputsOf(s *stack) []outputXML {
	if s.tmpl == nil {
		return nil
	}
	var out []outputXML
	for _, k := range slices.Sorted(maps.Keys(s.tmpl.outputs)) {
		o := s.tmpl.outputs[k]
		v, ok := f.outputs[s.name][k]
		if !ok {
			v = f.eval(s, o.value, nil)
		}
		out = append(out, outputXML{OutputKey: k, OutputValue: v, Description: o.description})
	}
	return out
}

// eval computes a template value of the stack: literals, Ref, Fn::GetAtt
// (as PHYSICAL.Attr), Fn::Sub and Fn::Join.
func (f *Fake) eval(s *stack, v any, vars map[string]any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if r, ok := v["Ref"].(string); ok {
			return f.lookup(s, r, vars)
		}
		if a, ok := v["Fn::GetAtt"].([]any); ok && len(a) == 2 {
			return f.lookup(s, fmt.Sprint(a[0]), vars) + "." + fmt.Sprint(a[1])
		}
		if x, ok := v["Fn::Sub"]; ok {
			str, own := subParts(x)
			return subVar.ReplaceAllStringFunc(str, func(m string) string {
				return f.lookup(s, m[2:len(m)-1], own)
			})
		}
		if j, ok := v["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, _ := j[1].([]any)
			var out []string
			for _, p := range parts {
				out = append(out, f.eval(s, p, vars))
			}
			return strings.Join(out, fmt.Sprint(j[0]))
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// lookup is the value of a name in Ref or Fn::Sub.
func (f *Fake) lookup(s *stack, name string, vars map[string]any) string {
	if v, ok := vars[name]; ok {
		return f.eval(s, v, nil)
	}
	switch name {
	case "AWS::Region":
		return f.cfg.Region
	case "AWS::AccountId":
		return f.cfg.AccountID
	case "AWS::Partition":
		return "aws"
	case "AWS::StackName":
		return s.name
	case "AWS::StackId":
		return s.id
	case "AWS::URLSuffix":
		return "amazonaws.com"
	}
	if v, ok := s.params[name]; ok {
		return v
	}
	res, attr, _ := strings.Cut(name, ".")
	if attr != "" {
		return s.physical[res] + "." + attr
	}
	return s.physical[name]
}
