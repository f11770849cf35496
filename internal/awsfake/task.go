package awsfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// task is one ECS task. Its mutable fields are guarded by the ECS's mu.
type task struct {
	id, cluster string
	seq         int
	def         *taskDef
	provider    string // the capacity provider, or ""
	launchType  string // "FARGATE", or "" with a provider
	group       string
	startedBy   string
	tags        []any
	overrides   map[string]any
	containers  []*taskContainer
	// stop is closed when the task is to stop.
	stop chan struct{}
	kill bool // stop without grace

	lastStatus, desiredStatus           string
	version                             int
	createdAt, pullStartedAt, startedAt time.Time
	pullStoppedAt, stoppingAt           time.Time
	executionStoppedAt, stoppedAt       time.Time
	stopCode, stoppedReason             string
}

// taskContainer is one container of a task.
type taskContainer struct {
	def       containerDef
	id        string
	command   []string
	env       map[string]string
	logStream string // "" without awslogs
	// The fields below are guarded by the ECS's mu.
	proc       Process
	lastStatus string
	exitCode   *int
	reason     string
}

func (t *task) arn() string {
	return "arn:aws:ecs:" + Region + ":" + Account + ":task/" + t.cluster + "/" + t.id
}

// taskIDOf returns the id of a task given by id or ARN.
func taskIDOf(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// setStatus moves t to a new lastStatus. mu is held.
func (t *task) setStatus(s string) {
	t.lastStatus = s
	t.version++
}

// runResult is what RunTask answered for a client token.
type runResult struct {
	request  string // the request without its token, as JSON
	tasks    []string
	failures []any
}

func (e *ECS) runTask(in map[string]any) (any, *APIError) {
	count := 1
	if v, ok := in["count"].(float64); ok {
		count = int(v)
	}
	if count < 1 || count > 10 {
		return nil, invalidParameter("count must be between 1 and 10")
	}
	strategy, _ := in["capacityProviderStrategy"].([]any)
	launchType := str(in, "launchType")
	if launchType != "" && len(strategy) > 0 {
		return nil, invalidParameter("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, &APIError{Status: 500, Code: "ServerException", Message: "the fake is closed"}
	}
	cl := e.clusters[clusterName(str(in, "cluster"))]
	if cl == nil {
		return nil, errClusterNotFound
	}
	def := e.lookupDef(str(in, "taskDefinition"))
	if def == nil {
		return nil, invalidParameter("TaskDefinition not found.")
	}
	providers, err := placeTasks(cl, def, launchType, strategy, count)
	if err != nil {
		return nil, err
	}
	if def.networkMode == "awsvpc" {
		nc, _ := in["networkConfiguration"].(map[string]any)
		vpc, _ := nc["awsvpcConfiguration"].(map[string]any)
		if vpc == nil {
			return nil, invalidParameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
		}
		if len(strs(vpc, "subnets")) == 0 {
			return nil, invalidParameter("subnets can not be empty.")
		}
	}
	token := str(in, "clientToken")
	request, _ := json.Marshal(withoutKey(in, "clientToken"))
	key := cl.name + "/" + token
	if prev, ok := e.tokens[key]; token != "" && ok {
		if prev.request != string(request) {
			return nil, &APIError{Status: 400, Code: "ConflictException",
				Message: "The clientToken is already in use with a different RunTask request.",
				Fields:  map[string]any{"resourceIds": prev.tasks}}
		}
		return e.runAnswer(prev, slices.Contains(strs(in, "include"), "TAGS")), nil
	}
	if !e.takeLaunches(count) {
		return nil, &APIError{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	res := runResult{request: string(request), failures: []any{}}
	for _, p := range providers {
		if p == "FARGATE_SPOT" && e.noSpot {
			res.failures = append(res.failures, map[string]any{"arn": clusterARN(cl.name), "reason": ReasonCapacityUnavailable})
			continue
		}
		t := e.newTask(cl.name, def, in, p)
		if launchType != "" {
			t.provider, t.launchType = "", launchType
		}
		res.tasks = append(res.tasks, t.arn())
		e.wg.Add(1)
		go e.lifecycle(t)
	}
	if token != "" {
		e.tokens[key] = res
	}
	return e.runAnswer(res, true), nil
}

func withoutKey(m map[string]any, key string) map[string]any {
	out := maps.Clone(m)
	delete(out, key)
	return out
}

// placeTasks says which capacity provider each of count tasks runs on:
// a strategy's bases first, in order, then the rest spread by weight.
func placeTasks(cl *cluster, def *taskDef, launchType string, strategy []any, count int) ([]string, *APIError) {
	if len(strategy) == 0 {
		if launchType == "" {
			launchType = "EC2"
		}
		if launchType != "FARGATE" || !def.fargate() && len(def.requires) > 0 {
			return nil, invalidParameter("Task definition does not support launch_type " + launchType + ".")
		}
		return slices.Repeat([]string{"FARGATE"}, count), nil
	}
	type item struct {
		name         string
		weight, base int
		placed       int
	}
	var items []*item
	weights := 0
	for _, r := range strategy {
		m, _ := r.(map[string]any)
		it := &item{name: str(m, "capacityProvider")}
		if v, ok := m["weight"].(float64); ok {
			it.weight = int(v)
		}
		if v, ok := m["base"].(float64); ok {
			it.base = int(v)
		}
		if !slices.Contains(cl.providers, it.name) {
			return nil, invalidParameter("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.")
		}
		if !def.fargate() {
			return nil, invalidParameter("Task definition does not support launch_type FARGATE.")
		}
		weights += it.weight
		items = append(items, it)
	}
	if weights == 0 {
		return nil, invalidParameter("The specified capacity provider strategy must contain at least one capacity provider with a weight greater than zero.")
	}
	var out []string
	for _, it := range items {
		for ; it.placed < it.base && len(out) < count; it.placed++ {
			out = append(out, it.name)
		}
	}
	// Each further task goes to the provider furthest below its share.
	spread := map[*item]int{}
	for len(out) < count {
		var best *item
		for _, it := range items {
			if it.weight > 0 && (best == nil || (spread[it]+1)*best.weight < (spread[best]+1)*it.weight) {
				best = it
			}
		}
		spread[best]++
		out = append(out, best.name)
	}
	return out, nil
}

// newTask makes a PROVISIONING task. mu is held.
func (e *ECS) newTask(clusterName string, def *taskDef, in map[string]any, provider string) *task {
	e.seq++
	t := &task{
		id: newID(), cluster: clusterName, seq: e.seq, def: def, provider: provider,
		group: str(in, "group"), startedBy: str(in, "startedBy"),
		stop: make(chan struct{}), desiredStatus: "RUNNING", createdAt: time.Now(),
	}
	if t.group == "" {
		t.group = "family:" + def.family
	}
	t.tags, _ = in["tags"].([]any)
	if str(in, "propagateTags") == "TASK_DEFINITION" {
		t.tags = append(slices.Clone(def.tags), t.tags...)
	}
	t.overrides, _ = in["overrides"].(map[string]any)
	overrides := map[string]map[string]any{}
	if t.overrides != nil {
		raw, _ := t.overrides["containerOverrides"].([]any)
		for _, r := range raw {
			if m, ok := r.(map[string]any); ok {
				overrides[str(m, "name")] = m
			}
		}
	}
	for _, d := range def.containers {
		c := &taskContainer{def: d, id: newID(), command: d.command, env: maps.Clone(d.env), lastStatus: "PENDING"}
		if o := overrides[d.name]; o != nil {
			if _, ok := o["command"]; ok {
				c.command = strs(o, "command")
			}
			for _, kv := range nameValues(o, "environment") {
				c.env[kv[0]] = kv[1]
			}
		}
		if d.logDriver == "awslogs" {
			c.logStream = d.logOptions["awslogs-stream-prefix"] + "/" + d.name + "/" + t.id
		}
		t.containers = append(t.containers, c)
	}
	t.setStatus("PROVISIONING")
	e.tasks[t.id] = t
	return t
}

// runAnswer is RunTask's answer. mu is held.
func (e *ECS) runAnswer(res runResult, tags bool) map[string]any {
	tasks := []any{}
	for _, arn := range res.tasks {
		if t := e.tasks[taskIDOf(arn)]; t != nil {
			tasks = append(tasks, t.describe(tags))
		}
	}
	return map[string]any{"tasks": tasks, "failures": res.failures}
}

// stopLocked asks t to stop, unless it was asked already. mu is held.
func (e *ECS) stopLocked(t *task, code, reason string) {
	if t.desiredStatus == "STOPPED" {
		return
	}
	t.desiredStatus, t.stopCode, t.stoppedReason = "STOPPED", code, reason
	t.stoppingAt = time.Now()
	t.version++
	close(t.stop)
}

// purge forgets the tasks stopped longer than the retention. mu is held.
func (e *ECS) purge() {
	cutoff := time.Now().Add(-e.cfg.StoppedRetention)
	for id, t := range e.tasks {
		if t.lastStatus == "STOPPED" && t.stoppedAt.Before(cutoff) {
			delete(e.tasks, id)
		}
	}
}

func (e *ECS) describeTasks(in map[string]any) (any, *APIError) {
	ids := strs(in, "tasks")
	switch {
	case len(ids) == 0:
		return nil, invalidParameter("Tasks cannot be empty.")
	case len(ids) > 100:
		return nil, invalidParameter("Tasks cannot have more than 100 elements.")
	}
	tags := slices.Contains(strs(in, "include"), "TAGS")
	e.mu.Lock()
	defer e.mu.Unlock()
	cl := e.clusters[clusterName(str(in, "cluster"))]
	if cl == nil {
		return nil, errClusterNotFound
	}
	e.purge()
	tasks, failures := []any{}, []any{}
	for _, id := range ids {
		t := e.tasks[taskIDOf(id)]
		if t == nil || t.cluster != cl.name {
			arn := id
			if !strings.HasPrefix(arn, "arn:") {
				arn = "arn:aws:ecs:" + Region + ":" + Account + ":task/" + cl.name + "/" + id
			}
			failures = append(failures, map[string]any{"arn": arn, "reason": "MISSING"})
			continue
		}
		tasks = append(tasks, t.describe(tags))
	}
	return map[string]any{"tasks": tasks, "failures": failures}, nil
}

func (e *ECS) stopTask(in map[string]any) (any, *APIError) {
	reason := str(in, "reason")
	if len(reason) > 255 {
		return nil, invalidParameter("Reason cannot be longer than 255 characters.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cl := e.clusters[clusterName(str(in, "cluster"))]
	if cl == nil {
		return nil, errClusterNotFound
	}
	t := e.tasks[taskIDOf(str(in, "task"))]
	if t == nil || t.cluster != cl.name {
		return nil, invalidParameter("The referenced task was not found.")
	}
	e.stopLocked(t, "UserInitiated", reason)
	return map[string]any{"task": t.describe(false)}, nil
}

func (e *ECS) listTasks(in map[string]any) (any, *APIError) {
	limit := 100
	if v, ok := in["maxResults"].(float64); ok {
		if v < 1 || v > 100 {
			return nil, invalidParameter("maxResults must be between 1 and 100.")
		}
		limit = int(v)
	}
	desired := str(in, "desiredStatus")
	if desired == "" {
		desired = "RUNNING"
	}
	after := 0
	if tok := str(in, "nextToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "fake-"))
		if err != nil {
			return nil, invalidParameter("Invalid token " + tok)
		}
		after = n
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cl := e.clusters[clusterName(str(in, "cluster"))]
	if cl == nil {
		return nil, errClusterNotFound
	}
	e.purge()
	family, startedBy, launchType := str(in, "family"), str(in, "startedBy"), str(in, "launchType")
	var match []*task
	for _, t := range e.tasks {
		if t.cluster == cl.name && t.seq > after && t.desiredStatus == desired &&
			(family == "" || t.def.family == family) && (startedBy == "" || t.startedBy == startedBy) &&
			(launchType == "" || launchType == "FARGATE") {
			match = append(match, t)
		}
	}
	slices.SortFunc(match, func(a, b *task) int { return a.seq - b.seq })
	out := map[string]any{}
	if len(match) > limit {
		match = match[:limit]
		out["nextToken"] = fmt.Sprintf("fake-%d", match[limit-1].seq)
	}
	arns := []string{}
	for _, t := range match {
		arns = append(arns, t.arn())
	}
	out["taskArns"] = arns
	return out, nil
}

// describe is the task as DescribeTasks shows it. mu is held.
func (t *task) describe(tags bool) map[string]any {
	m := map[string]any{
		"taskArn": t.arn(), "clusterArn": clusterARN(t.cluster), "taskDefinitionArn": t.def.arn(),
		"lastStatus": t.lastStatus, "desiredStatus": t.desiredStatus, "version": t.version,
		"launchType": "FARGATE", "platformVersion": "1.4.0", "platformFamily": "Linux",
		"cpu": strconv.Itoa(t.def.cpu), "memory": strconv.Itoa(t.def.memory),
		"group": t.group, "availabilityZone": Region + "a", "connectivity": "CONNECTED",
		"healthStatus": "UNKNOWN", "enableExecuteCommand": false,
		"ephemeralStorage": map[string]any{"sizeInGiB": 20},
		"createdAt":        epoch(t.createdAt),
		"attributes":       []any{map[string]any{"name": "ecs.cpu-architecture", "value": "x86_64"}},
	}
	if t.provider != "" {
		m["capacityProviderName"] = t.provider
	}
	if t.startedBy != "" {
		m["startedBy"] = t.startedBy
	}
	overrides := map[string]any{"containerOverrides": []any{}, "inferenceAcceleratorOverrides": []any{}}
	for k, v := range t.overrides {
		overrides[k] = v
	}
	m["overrides"] = overrides
	if tags {
		m["tags"] = append([]any{}, t.tags...)
	}
	for k, v := range map[string]time.Time{
		"pullStartedAt": t.pullStartedAt, "pullStoppedAt": t.pullStoppedAt, "startedAt": t.startedAt,
		"stoppingAt": t.stoppingAt, "executionStoppedAt": t.executionStoppedAt, "stoppedAt": t.stoppedAt,
	} {
		if !v.IsZero() {
			m[k] = epoch(v)
		}
	}
	if t.stopCode != "" {
		m["stopCode"] = t.stopCode
	}
	if t.stoppedReason != "" {
		m["stoppedReason"] = t.stoppedReason
	}
	containers := []any{}
	for _, c := range t.containers {
		cm := map[string]any{
			"containerArn": "arn:aws:ecs:" + Region + ":" + Account + ":container/" + t.cluster + "/" + t.id + "/" + c.id,
			"taskArn":      t.arn(), "name": c.def.name, "image": c.def.image, "lastStatus": c.lastStatus,
			"cpu": "0", "healthStatus": "UNKNOWN", "networkInterfaces": []any{},
		}
		if c.def.memory > 0 {
			cm["memory"] = strconv.Itoa(c.def.memory)
		}
		if c.exitCode != nil {
			cm["exitCode"] = *c.exitCode
		}
		if c.reason != "" {
			cm["reason"] = c.reason
		}
		if c.proc != nil {
			cm["runtimeId"] = t.id + "-" + c.id[:10]
		}
		containers = append(containers, cm)
	}
	m["containers"] = containers
	return m
}

// tagResource adds tags to a task, a key given again taking its new
// value. Only tasks can be tagged in the fake; another ARN is
// InvalidParameterException, an unknown task ResourceNotFoundException.
func (e *ECS) tagResource(in map[string]any) (any, *APIError) {
	arn := str(in, "resourceArn")
	if !strings.Contains(arn, ":task/") {
		return nil, invalidParameter("The ARN " + arn + " is not a task's: the fake tags tasks only.")
	}
	tags, _ := in["tags"].([]any)
	if len(tags) == 0 {
		return nil, invalidParameter("Tags cannot be empty.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tasks[taskIDOf(arn)]
	if t == nil {
		return nil, &APIError{Status: 400, Code: "ResourceNotFoundException", Message: "The specified resource could not be found."}
	}
	for _, raw := range tags {
		m, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		t.tags = slices.DeleteFunc(t.tags, func(old any) bool {
			o, ok := old.(map[string]any)
			return ok && str(o, "key") == str(m, "key")
		})
		t.tags = append(t.tags, m)
	}
	t.version++
	return map[string]any{}, nil
}
