package cfnfake

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// changeSet is one change set of a stack.
type changeSet struct {
	id, name     string
	stack        *stack
	typ          string // CREATE or UPDATE
	status       string // CREATE_COMPLETE or FAILED
	reason       string
	execution    string // AVAILABLE, UNAVAILABLE or EXECUTE_COMPLETE
	created      time.Time
	ready        time.Time // until then it is CREATE_IN_PROGRESS
	tmpl         *template
	params       map[string]string
	tags         [][2]string
	capabilities []string
	changes      []change // in the order they would be made
}

// change is one resource's change.
type change struct {
	action  string // Add, Modify or Remove
	logical string
	typ     string
}

// state returns the change set's status, its reason and its execution
// status at now: CREATE_IN_PROGRESS until it is ready.
func (cs *changeSet) state(now time.Time) (status, reason, execution string) {
	if now.Before(cs.ready) {
		return "CREATE_IN_PROGRESS", "", "UNAVAILABLE"
	}
	return cs.status, cs.reason, cs.execution
}

// noChanges is the reason of a change set that would change nothing.
const noChanges = "The submitted information didn't contain changes. Submit different information to create a change set."

var changeSetNameRe = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`)

func (f *Fake) createChangeSet(p url.Values, now time.Time) (any, error) {
	name, csName, typ := p.Get("StackName"), p.Get("ChangeSetName"), p.Get("ChangeSetType")
	if typ == "" {
		typ = "UPDATE"
	}
	switch {
	case name == "":
		return nil, validation("1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null")
	case !changeSetNameRe.MatchString(csName):
		return nil, validation("1 validation error detected: Value '%s' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", csName)
	case typ != "CREATE" && typ != "UPDATE":
		return nil, validation("1 validation error detected: Value '%s' at 'changeSetType' failed to satisfy constraint: Member must satisfy enum value set: [IMPORT, UPDATE, CREATE]", typ)
	case len(p.Get("TemplateBody")) > maxBody:
		return nil, validation("1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to %d", maxBody)
	}
	s := f.byName(name, now)
	if s != nil {
		st := s.status(now)
		switch {
		case typ == "CREATE" && st != "REVIEW_IN_PROGRESS":
			return nil, &apiError{http.StatusBadRequest, "AlreadyExistsException", fmt.Sprintf("Stack [%s] already exists", name)}
		case typ == "UPDATE" && (inProgress(st) || st == "REVIEW_IN_PROGRESS" || st == "ROLLBACK_COMPLETE" || strings.HasSuffix(st, "_FAILED")):
			return nil, validation("Stack:%s is in %s state and can not be updated.", s.id, st)
		}
	} else if typ == "UPDATE" {
		return nil, validation("Stack [%s] does not exist", name)
	}
	var tmpl *template
	var err error
	switch {
	case p.Get("UsePreviousTemplate") == "true" && s != nil && s.tmpl != nil:
		tmpl = s.tmpl
	case p.Get("TemplateBody") == "":
		return nil, validation("Either Template URL or Template Body must be specified.")
	default:
		if tmpl, err = parseTemplate(p.Get("TemplateBody")); err != nil {
			return nil, err
		}
	}
	params, err := resolveParams(tmpl, structs(p, "Parameters"), s)
	if err != nil {
		return nil, err
	}
	caps := members(p, "Capabilities")
	if need := tmpl.iamCapability(); need != "" && !slices.Contains(caps, need) && !slices.Contains(caps, "CAPABILITY_NAMED_IAM") {
		return nil, &apiError{http.StatusBadRequest, "InsufficientCapabilitiesException", fmt.Sprintf("Requires capabilities : [%s]", need)}
	}
	var tags [][2]string
	for _, t := range structs(p, "Tags") {
		tags = append(tags, [2]string{t["Key"], t["Value"]})
	}
	if s == nil {
		s = &stack{name: name, id: f.arn("stack", name), created: now, physical: map[string]string{}}
		f.stacks = append(f.stacks, s)
		(&sched{f: f, s: s, t: now}).stack("REVIEW_IN_PROGRESS", "User Initiated")
	}
	for _, cs := range f.changeSets {
		if cs.stack == s && cs.name == csName {
			return nil, &apiError{http.StatusBadRequest, "AlreadyExistsException", fmt.Sprintf("ChangeSet [%s] already exists", csName)}
		}
	}
	cs := &changeSet{id: f.arn("changeSet", csName), name: csName, stack: s, typ: typ, created: now, ready: now.Add(f.cfg.ChangeSetDelay),
		tmpl: tmpl, params: params, tags: tags, capabilities: caps, status: "CREATE_COMPLETE", execution: "AVAILABLE"}
	cs.changes = diff(s, tmpl, params)
	if len(cs.changes) == 0 && (typ == "CREATE" || slices.Equal(tags, s.tags)) {
		cs.status, cs.reason, cs.execution = "FAILED", noChanges, "UNAVAILABLE"
	}
	f.changeSets = append(f.changeSets, cs)
	return struct {
		ID      string `xml:"Id"`
		StackID string `xml:"StackId"`
	}{cs.id, s.id}, nil
}

// resolveParams returns the values of the template's parameters: given,
// previous (UsePreviousValue) or default.
func resolveParams(t *template, given []map[string]string, s *stack) (map[string]string, error) {
	out := map[string]string{}
	var unknown, missing []string
	for _, g := range given {
		k := g["ParameterKey"]
		if _, ok := t.params[k]; !ok {
			unknown = append(unknown, k)
			continue
		}
		if g["UsePreviousValue"] == "true" {
			prev, ok := "", false
			if s != nil {
				prev, ok = s.params[k]
			}
			if !ok {
				return nil, validation("Invalid input for parameter key %s. Cannot specify usePreviousValue as true for a parameter key not in the previous template", k)
			}
			out[k] = prev
			continue
		}
		out[k] = g["ParameterValue"]
	}
	if len(unknown) > 0 {
		return nil, validation("Parameters: [%s] do not exist in the template", strings.Join(unknown, ","))
	}
	for _, k := range slices.Sorted(maps.Keys(t.params)) {
		if _, ok := out[k]; ok {
			continue
		}
		if d := t.params[k]; d.hasDefault {
			out[k] = d.def
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, validation("Parameters: [%s] must have values", strings.Join(missing, ", "))
	}
	return out, nil
}

// diff returns the changes that turn s into tmpl with params: additions
// and modifications in the order of tmpl's dependencies, then removals.
// A resource is modified when its definition changed or it refers to a
// parameter whose value did.
func diff(s *stack, tmpl *template, params map[string]string) []change {
	var out []change
	var changed []string
	for k, v := range params {
		if prev, ok := s.params[k]; !ok || prev != v {
			changed = append(changed, k)
		}
	}
	for _, id := range tmpl.order {
		r := tmpl.resources[id]
		var old resourceDef
		ok := false
		if s.tmpl != nil {
			old, ok = s.tmpl.resources[id]
		}
		switch {
		case !ok || s.physical[id] == "":
			out = append(out, change{"Add", id, r.typ})
		case old.raw != r.raw || mentions(r.raw, changed):
			out = append(out, change{"Modify", id, r.typ})
		}
	}
	if s.tmpl != nil {
		for _, id := range slices.Backward(s.tmpl.order) {
			if _, ok := tmpl.resources[id]; !ok {
				out = append(out, change{"Remove", id, s.tmpl.resources[id].typ})
			}
		}
	}
	return out
}

// mentions reports whether the resource's JSON refers to one of params.
func mentions(raw string, params []string) bool {
	for _, p := range params {
		if strings.Contains(raw, `"Ref":"`+p+`"`) || strings.Contains(raw, "${"+p+"}") {
			return true
		}
	}
	return false
}

// findChangeSet finds a change set by ARN, or by name and stack.
func (f *Fake) findChangeSet(p url.Values, now time.Time) (*changeSet, error) {
	name := p.Get("ChangeSetName")
	if name == "" {
		return nil, validation("1 validation error detected: Value null at 'changeSetName' failed to satisfy constraint: Member must not be null")
	}
	for _, cs := range f.changeSets {
		if cs.id == name {
			return cs, nil
		}
	}
	if s := f.byName(p.Get("StackName"), now); s != nil {
		for _, cs := range f.changeSets {
			if cs.stack == s && cs.name == name {
				return cs, nil
			}
		}
	}
	return nil, &apiError{http.StatusNotFound, "ChangeSetNotFound", fmt.Sprintf("ChangeSet [%s] does not exist", name)}
}

func (f *Fake) describeChangeSet(p url.Values, now time.Time) (any, error) {
	cs, err := f.findChangeSet(p, now)
	if err != nil {
		return nil, err
	}
	status, reason, execution := cs.state(now)
	out := changeSetXML{ChangeSetID: cs.id, ChangeSetName: cs.name, StackID: cs.stack.id, StackName: cs.stack.name,
		Status: status, StatusReason: reason, ExecutionStatus: execution, CreationTime: formatTime(cs.created),
		Capabilities: cs.capabilities, Tags: tagsXML(cs.tags)}
	for _, k := range slices.Sorted(maps.Keys(cs.params)) {
		out.Parameters = append(out.Parameters, paramXML{k, cs.params[k]})
	}
	for _, c := range cs.changes {
		x := changeXML{Type: "Resource"}
		x.ResourceChange.Action, x.ResourceChange.LogicalResourceID, x.ResourceChange.ResourceType = c.action, c.logical, c.typ
		x.ResourceChange.PhysicalResourceID = cs.stack.physical[c.logical]
		out.Changes = append(out.Changes, x)
	}
	return out, nil
}

func (f *Fake) executeChangeSet(p url.Values, now time.Time) (any, error) {
	cs, err := f.findChangeSet(p, now)
	if err != nil {
		return nil, err
	}
	s := cs.stack
	status, _, execution := cs.state(now)
	switch st := s.status(now); {
	case status != "CREATE_COMPLETE" || execution != "AVAILABLE":
		return nil, &apiError{http.StatusBadRequest, "InvalidChangeSetStatus",
			fmt.Sprintf("ChangeSet [%s] cannot be executed in its current status of [%s]", cs.id, status)}
	case inProgress(st):
		return nil, validation("Stack:%s is in %s state and can not be updated.", s.id, st)
	}
	f.execute(s, cs, now)
	// CloudFormation deletes a stack's other change sets once one runs.
	f.changeSets = slices.DeleteFunc(f.changeSets, func(o *changeSet) bool { return o.stack == s && o != cs })
	cs.execution = "EXECUTE_COMPLETE"
	return nil, nil
}

func (f *Fake) describeStacks(p url.Values, now time.Time) (any, error) {
	var out struct {
		Stacks []stackXML `xml:"Stacks>member"`
	}
	name := p.Get("StackName")
	for _, s := range f.stacks {
		if name == "" && s.status(now) != "DELETE_COMPLETE" || name != "" && s == f.byName(name, now) {
			out.Stacks = append(out.Stacks, f.stackXML(s, now))
		}
	}
	if name != "" && len(out.Stacks) == 0 {
		return nil, noStack(name)
	}
	return out, nil
}

func (f *Fake) stackXML(s *stack, now time.Time) stackXML {
	st := s.status(now)
	x := stackXML{StackID: s.id, StackName: s.name, StackStatus: st, StackStatusReason: s.reason(now),
		CreationTime: formatTime(s.created), Capabilities: s.capabilities, Tags: tagsXML(s.tags)}
	if !s.updated.IsZero() {
		x.LastUpdatedTime = formatTime(s.updated)
	}
	if s.tmpl != nil {
		x.Description = s.tmpl.description
	}
	for _, k := range slices.Sorted(maps.Keys(s.params)) {
		x.Parameters = append(x.Parameters, paramXML{k, s.params[k]})
	}
	if st == "CREATE_COMPLETE" || st == "UPDATE_COMPLETE" || st == "UPDATE_ROLLBACK_COMPLETE" {
		x.Outputs = f.outputsOf(s)
	}
	return x
}

// eventsPage is how many events DescribeStackEvents answers at most.
const eventsPage = 100

func (f *Fake) describeStackEvents(p url.Values, now time.Time) (any, error) {
	name := p.Get("StackName")
	s := f.byName(name, now)
	if s == nil {
		return nil, noStack(name)
	}
	var out struct {
		Events    []eventXML `xml:"StackEvents>member"`
		NextToken string     `xml:"NextToken,omitempty"`
	}
	// A page ends before an event; the next begins at it, whatever
	// happened since.
	token, started := p.Get("NextToken"), p.Get("NextToken") == ""
	for _, e := range slices.Backward(s.events) {
		if e.at.After(now) {
			continue
		}
		if !started && e.id != token {
			continue
		}
		started = true
		if len(out.Events) == eventsPage {
			out.NextToken = e.id
			break
		}
		out.Events = append(out.Events, eventXML{StackID: s.id, EventID: e.id, StackName: s.name, LogicalResourceID: e.logical,
			PhysicalResourceID: e.physical, ResourceType: e.typ, Timestamp: formatTime(e.at), ResourceStatus: e.status, ResourceStatusReason: e.reason})
	}
	if !started {
		return nil, validation("Invalid NextToken")
	}
	return out, nil
}

func (f *Fake) getTemplate(p url.Values, now time.Time) (any, error) {
	name := p.Get("StackName")
	s := f.byName(name, now)
	if s == nil || s.tmpl == nil {
		return nil, noStack(name)
	}
	return struct {
		TemplateBody string   `xml:"TemplateBody"`
		Stages       []string `xml:"StagesAvailable>member"`
	}{s.tmpl.body, []string{"Original", "Processed"}}, nil
}

// deleteStack lays out the deletion after whatever the stack is doing.
// A stack that does not exist is deleted already, as CloudFormation
// answers.
func (f *Fake) deleteStack(p url.Values, now time.Time) (any, error) {
	s := f.byName(p.Get("StackName"), now)
	if s == nil {
		return nil, nil
	}
	for _, e := range s.events {
		if e.typ == stackType && e.status == "DELETE_IN_PROGRESS" {
			return nil, nil
		}
	}
	c := &sched{f: f, s: s, t: now}
	if end := s.end(); end.After(now) {
		c.t = end
	}
	c.stack("DELETE_IN_PROGRESS", "User Initiated")
	if s.tmpl != nil {
		for _, id := range slices.Backward(s.tmpl.order) {
			if s.physical[id] != "" {
				f.remove(c, id, s.tmpl.resources[id])
			}
		}
	}
	c.stack("DELETE_COMPLETE", "")
	f.changeSets = slices.DeleteFunc(f.changeSets, func(o *changeSet) bool { return o.stack == s })
	return nil, nil
}
