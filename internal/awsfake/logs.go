package awsfake

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Logs is a fake of CloudWatch Logs (AWS JSON 1.1, X-Amz-Target
// Logs_20140328.<Op>): CreateLogGroup, DeleteLogGroup, DescribeLogGroups,
// CreateLogStream, DescribeLogStreams, PutLogEvents, GetLogEvents and
// FilterLogEvents. The ECS fake writes the output of its tasks' awslogs
// containers here. A missing group or stream is ResourceNotFoundException,
// a second one of a name ResourceAlreadyExistsException.
//
// GetLogEvents pages as CloudWatch Logs does: a call without nextToken
// reads the first events (startFromHead) or the last ones; each answer
// carries nextForwardToken and nextBackwardToken, even when it has no
// event, and a token that finds nothing new comes back unchanged, so a
// reader that follows a stream polls with the forward token until it
// stops changing.
type Logs struct {
	jsonService

	// mu guards groups and autoCreate.
	mu         sync.Mutex
	groups     map[string]*logGroup
	autoCreate bool
}

type logGroup struct {
	created time.Time
	streams map[string]*logStream
}

type logStream struct {
	created time.Time
	events  []LogEvent
}

// LogEvent is one event of a log stream.
type LogEvent struct {
	Timestamp     int64 // ms since the epoch
	IngestionTime int64 // ms since the epoch
	Message       string
}

// NewLogs returns a fake with no log groups.
func NewLogs() *Logs {
	return &Logs{jsonService: jsonService{target: "Logs_20140328"}, groups: map[string]*logGroup{}}
}

// AutoCreateGroups makes the ECS fake create a missing log group when a
// task's container logs to it, instead of failing the task as AWS does
// (unless the container's awslogs-create-group option is "true").
func (l *Logs) AutoCreateGroups(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.autoCreate = on
}

// CreateGroup creates a log group, if it does not exist.
func (l *Logs) CreateGroup(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.groups[name] == nil {
		l.groups[name] = &logGroup{created: time.Now(), streams: map[string]*logStream{}}
	}
}

// Events returns the events of a stream, oldest first; nil when the
// stream does not exist.
func (l *Logs) Events(group, stream string) []LogEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.groups[group]
	if g == nil || g.streams[stream] == nil {
		return nil
	}
	return slices.Clone(g.streams[stream].events)
}

// openStream creates a stream for a container's output, and its group
// when create is set or the fake auto-creates groups; false when the
// group is missing.
func (l *Logs) openStream(group, stream string, create bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.groups[group]
	if g == nil {
		if !create && !l.autoCreate {
			return false
		}
		g = &logGroup{created: time.Now(), streams: map[string]*logStream{}}
		l.groups[group] = g
	}
	if g.streams[stream] == nil {
		g.streams[stream] = &logStream{created: time.Now()}
	}
	return true
}

// write appends one line of a container's output to a stream; it is
// dropped if the group or stream was deleted.
func (l *Logs) write(group, stream string, line LogLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.groups[group]
	if g == nil || g.streams[stream] == nil {
		return
	}
	s := g.streams[stream]
	s.events = append(s.events, LogEvent{Timestamp: line.Time.UnixMilli(), IngestionTime: time.Now().UnixMilli(), Message: line.Text})
}

// ServeHTTP implements http.Handler.
func (l *Logs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.serve(w, r, func(op string, in map[string]any) (any, *APIError) {
		switch op {
		case "CreateLogGroup":
			return l.createLogGroup(in)
		case "DeleteLogGroup":
			return l.deleteLogGroup(in)
		case "DescribeLogGroups":
			return l.describeLogGroups(in)
		case "CreateLogStream":
			return l.createLogStream(in)
		case "DescribeLogStreams":
			return l.describeLogStreams(in)
		case "PutLogEvents":
			return l.putLogEvents(in)
		case "GetLogEvents":
			return l.getLogEvents(in)
		case "FilterLogEvents":
			return l.filterLogEvents(in)
		}
		return nil, &APIError{Status: 400, Code: "UnknownOperationException", Message: "the fake does not serve " + op}
	})
}

var (
	errNoGroup  = &APIError{Status: 400, Code: "ResourceNotFoundException", Message: "The specified log group does not exist."}
	errNoStream = &APIError{Status: 400, Code: "ResourceNotFoundException", Message: "The specified log stream does not exist."}
)

func invalidParam(msg string) *APIError {
	return &APIError{Status: 400, Code: "InvalidParameterException", Message: msg}
}

// groupName reads logGroupName, or logGroupIdentifier (a name or an ARN).
func groupName(in map[string]any) string {
	if n := str(in, "logGroupName"); n != "" {
		return n
	}
	id := str(in, "logGroupIdentifier")
	if _, rest, ok := strings.Cut(id, ":log-group:"); ok {
		return strings.TrimSuffix(rest, ":*")
	}
	return id
}

func logGroupARN(name string) string {
	return "arn:aws:logs:" + Region + ":" + Account + ":log-group:" + name
}

func (l *Logs) createLogGroup(in map[string]any) (any, *APIError) {
	name := str(in, "logGroupName")
	if name == "" {
		return nil, invalidParam("1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.groups[name] != nil {
		return nil, &APIError{Status: 400, Code: "ResourceAlreadyExistsException", Message: "The specified log group already exists"}
	}
	l.groups[name] = &logGroup{created: time.Now(), streams: map[string]*logStream{}}
	return map[string]any{}, nil
}

func (l *Logs) deleteLogGroup(in map[string]any) (any, *APIError) {
	name := str(in, "logGroupName")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.groups[name] == nil {
		return nil, errNoGroup
	}
	delete(l.groups, name)
	return map[string]any{}, nil
}

// page cuts sorted names to those after the nextToken, at most limit of
// them, and says the token of the next page ("" at the end).
func page(names []string, in map[string]any, maxLimit int) ([]string, string, *APIError) {
	limit := maxLimit
	if v, ok := in["limit"].(float64); ok {
		if v < 1 || int(v) > maxLimit {
			return nil, "", invalidParam(fmt.Sprintf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to %d", int(v), maxLimit))
		}
		limit = int(v)
	}
	if tok := str(in, "nextToken"); tok != "" {
		i := sort.SearchStrings(names, tok)
		for i < len(names) && names[i] <= tok {
			i++
		}
		names = names[i:]
	}
	if len(names) > limit {
		return names[:limit], names[limit-1], nil
	}
	return names, "", nil
}

func (l *Logs) describeLogGroups(in map[string]any) (any, *APIError) {
	prefix := str(in, "logGroupNamePrefix")
	l.mu.Lock()
	defer l.mu.Unlock()
	names, next, err := page(prefixed(l.groups, prefix), in, 50)
	if err != nil {
		return nil, err
	}
	groups := []any{}
	for _, n := range names {
		g := l.groups[n]
		var bytes int
		for _, s := range g.streams {
			for _, e := range s.events {
				bytes += len(e.Message)
			}
		}
		groups = append(groups, map[string]any{
			"logGroupName": n, "creationTime": g.created.UnixMilli(), "metricFilterCount": 0,
			"arn": logGroupARN(n) + ":*", "logGroupArn": logGroupARN(n), "storedBytes": bytes,
			"logGroupClass": "STANDARD",
		})
	}
	out := map[string]any{"logGroups": groups}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (l *Logs) createLogStream(in map[string]any) (any, *APIError) {
	name := str(in, "logStreamName")
	if name == "" || strings.ContainsAny(name, ":*") {
		return nil, invalidParam("1 validation error detected: Value '" + name + "' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.groups[groupName(in)]
	if g == nil {
		return nil, errNoGroup
	}
	if g.streams[name] != nil {
		return nil, &APIError{Status: 400, Code: "ResourceAlreadyExistsException", Message: "The specified log stream already exists"}
	}
	g.streams[name] = &logStream{created: time.Now()}
	return map[string]any{}, nil
}

func (l *Logs) describeLogStreams(in map[string]any) (any, *APIError) {
	prefix := str(in, "logStreamNamePrefix")
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.groups[groupName(in)]
	if g == nil {
		return nil, errNoGroup
	}
	names, next, err := page(prefixed(g.streams, prefix), in, 50)
	if err != nil {
		return nil, err
	}
	streams := []any{}
	for _, n := range names {
		s := g.streams[n]
		m := map[string]any{
			"logStreamName": n, "creationTime": s.created.UnixMilli(),
			"arn": "arn:aws:logs:" + Region + ":" + Account + ":log-group:" + groupName(in) + ":log-stream:" + n,
		}
		if len(s.events) > 0 {
			m["firstEventTimestamp"] = s.events[0].Timestamp
			m["lastEventTimestamp"] = s.events[len(s.events)-1].Timestamp
			m["lastIngestionTime"] = s.events[len(s.events)-1].IngestionTime
		}
		streams = append(streams, m)
	}
	out := map[string]any{"logStreams": streams}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (l *Logs) putLogEvents(in map[string]any) (any, *APIError) {
	raw, _ := in["logEvents"].([]any)
	if len(raw) == 0 || len(raw) > 10000 {
		return nil, invalidParam("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and 10000")
	}
	now := time.Now().UnixMilli()
	events := make([]LogEvent, 0, len(raw))
	for _, r := range raw {
		m, _ := r.(map[string]any)
		ts, _ := m["timestamp"].(float64)
		msg, _ := m["message"].(string)
		if n := len(events); n > 0 && int64(ts) < events[n-1].Timestamp {
			return nil, invalidParam("Log events in a single PutLogEvents request must be in chronological order.")
		}
		events = append(events, LogEvent{Timestamp: int64(ts), IngestionTime: now, Message: msg})
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.groups[groupName(in)]
	if g == nil {
		return nil, errNoGroup
	}
	s := g.streams[str(in, "logStreamName")]
	if s == nil {
		return nil, errNoStream
	}
	sorted := len(s.events) == 0 || s.events[len(s.events)-1].Timestamp <= events[0].Timestamp
	s.events = append(s.events, events...)
	if !sorted {
		sort.SliceStable(s.events, func(i, j int) bool { return s.events[i].Timestamp < s.events[j].Timestamp })
	}
	return map[string]any{"nextSequenceToken": strconv.Itoa(len(s.events))}, nil
}

// maxEventsBytes is the most a GetLogEvents or FilterLogEvents answer
// holds: 1 MB, counting 26 bytes for each event besides its message.
const maxEventsBytes = 1 << 20

// logToken is a GetLogEvents token: a direction and a position in the
// stream, the index of the first event after it.
func logToken(dir byte, pos int) string { return fmt.Sprintf("%c/%056d/s", dir, pos) }

func parseLogToken(tok string) (dir byte, pos int, ok bool) {
	if len(tok) < 3 || (tok[0] != 'f' && tok[0] != 'b') || tok[1] != '/' {
		return 0, 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(tok[2:], "/s"))
	return tok[0], n, err == nil && n >= 0
}

func (l *Logs) getLogEvents(in map[string]any) (any, *APIError) {
	limit := 10000
	if v, ok := in["limit"].(float64); ok {
		if v < 1 || v > 10000 {
			return nil, invalidParam(fmt.Sprintf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000", int(v)))
		}
		limit = int(v)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.groups[groupName(in)]
	if g == nil {
		return nil, errNoGroup
	}
	s := g.streams[str(in, "logStreamName")]
	if s == nil {
		return nil, errNoStream
	}
	// match lists the positions of the events in the time range.
	var match []int
	start, hasStart := in["startTime"].(float64)
	end, hasEnd := in["endTime"].(float64)
	for i, e := range s.events {
		if (!hasStart || e.Timestamp >= int64(start)) && (!hasEnd || e.Timestamp < int64(end)) {
			match = append(match, i)
		}
	}
	n := len(s.events)
	forward := in["startFromHead"] == true
	from, to := 0, n // the window of positions read: [from, to)
	if tok := str(in, "nextToken"); tok != "" {
		dir, pos, ok := parseLogToken(tok)
		if !ok || pos > n {
			return nil, invalidParam("The specified nextToken is invalid.")
		}
		forward = dir == 'f'
		if forward {
			from = pos
		} else {
			to = pos
		}
	}
	var picked []int
	bytes := 0
	take := func(i int) bool {
		size := len(s.events[i].Message) + 26
		if len(picked) == limit || bytes+size > maxEventsBytes {
			return false
		}
		picked, bytes = append(picked, i), bytes+size
		return true
	}
	if forward {
		for _, i := range match {
			if i >= from && i < to && !take(i) {
				break
			}
		}
	} else {
		for k := len(match) - 1; k >= 0; k-- {
			if i := match[k]; i >= from && i < to && !take(i) {
				break
			}
		}
		slices.Reverse(picked)
	}
	// An empty window leaves the position where it was: the caller's
	// token comes back.
	first, last := from, from
	if !forward {
		first, last = to, to
	}
	if len(picked) > 0 {
		first, last = picked[0], picked[len(picked)-1]+1
	}
	events := make([]any, 0, len(picked))
	for _, i := range picked {
		e := s.events[i]
		events = append(events, map[string]any{"timestamp": e.Timestamp, "message": e.Message, "ingestionTime": e.IngestionTime})
	}
	return map[string]any{
		"events":            events,
		"nextForwardToken":  logToken('f', last),
		"nextBackwardToken": logToken('b', first),
	}, nil
}

// filterLogEvents matches the filter pattern as plain terms that must all
// occur (a quoted term as one); CloudWatch's JSON and space-delimited
// patterns are not understood.
func (l *Logs) filterLogEvents(in map[string]any) (any, *APIError) {
	limit := 10000
	if v, ok := in["limit"].(float64); ok && v >= 1 && v <= 10000 {
		limit = int(v)
	}
	var terms []string
	for _, f := range strings.Fields(str(in, "filterPattern")) {
		terms = append(terms, strings.Trim(f, `"`))
	}
	var wanted []string
	if raw, ok := in["logStreamNames"].([]any); ok {
		for _, r := range raw {
			if s, ok := r.(string); ok {
				wanted = append(wanted, s)
			}
		}
	}
	prefix := str(in, "logStreamNamePrefix")
	start, hasStart := in["startTime"].(float64)
	end, hasEnd := in["endTime"].(float64)
	skip, _ := strconv.Atoi(str(in, "nextToken"))
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.groups[groupName(in)]
	if g == nil {
		return nil, errNoGroup
	}
	type hit struct {
		stream string
		i      int
		e      LogEvent
	}
	var hits []hit
	for name, s := range g.streams {
		if (wanted != nil && !slices.Contains(wanted, name)) || !strings.HasPrefix(name, prefix) {
			continue
		}
	events:
		for i, e := range s.events {
			if (hasStart && e.Timestamp < int64(start)) || (hasEnd && e.Timestamp > int64(end)) {
				continue
			}
			for _, t := range terms {
				if !strings.Contains(e.Message, t) {
					continue events
				}
			}
			hits = append(hits, hit{name, i, e})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool {
		if hits[a].e.Timestamp != hits[b].e.Timestamp {
			return hits[a].e.Timestamp < hits[b].e.Timestamp
		}
		if hits[a].stream != hits[b].stream {
			return hits[a].stream < hits[b].stream
		}
		return hits[a].i < hits[b].i
	})
	hits = hits[min(skip, len(hits)):]
	events := []any{}
	bytes := 0
	for _, h := range hits {
		size := len(h.e.Message) + 26
		if len(events) == limit || bytes+size > maxEventsBytes {
			break
		}
		bytes += size
		events = append(events, map[string]any{
			"logStreamName": h.stream, "timestamp": h.e.Timestamp, "message": h.e.Message,
			"ingestionTime": h.e.IngestionTime, "eventId": fmt.Sprintf("%s-%d", h.stream, h.i),
		})
	}
	out := map[string]any{"events": events, "searchedLogStreams": []any{}}
	if len(events) < len(hits) {
		out["nextToken"] = strconv.Itoa(skip + len(events))
	}
	return out, nil
}

// prefixed returns the keys of m that begin with prefix, in order.
func prefixed[V any](m map[string]V, prefix string) []string {
	var names []string
	for n := range m {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
