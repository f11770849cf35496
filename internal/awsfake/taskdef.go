package awsfake

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// taskDef is a registered task definition revision. It is never changed
// once registered.
type taskDef struct {
	family      string
	revision    int
	cpu, memory int // task-level units and MiB; 0 when not given
	networkMode string
	requires    []string
	containers  []containerDef
	tags        []any
	out         map[string]any // as DescribeTaskDefinition answers it
}

func (d *taskDef) arn() string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", Region, Account, d.family, d.revision)
}

func (d *taskDef) fargate() bool { return slices.Contains(d.requires, "FARGATE") }

// containerDef is one container definition.
type containerDef struct {
	name, image string
	command     []string
	env         map[string]string
	memory      int // hard limit, MiB; 0 when not given
	essential   bool
	stopTimeout time.Duration
	logDriver   string
	logOptions  map[string]string
}

// fargateMemory lists the task memory sizes (MiB) Fargate accepts for
// each task CPU size (units).
var fargateMemory = map[int]func(mem int) bool{
	256:   func(m int) bool { return m == 512 || m == 1024 || m == 2048 },
	512:   func(m int) bool { return m >= 1024 && m <= 4096 && m%1024 == 0 },
	1024:  func(m int) bool { return m >= 2048 && m <= 8192 && m%1024 == 0 },
	2048:  func(m int) bool { return m >= 4096 && m <= 16384 && m%1024 == 0 },
	4096:  func(m int) bool { return m >= 8192 && m <= 30720 && m%1024 == 0 },
	8192:  func(m int) bool { return m >= 16384 && m <= 61440 && m%4096 == 0 },
	16384: func(m int) bool { return m >= 32768 && m <= 122880 && m%8192 == 0 },
}

// parseUnits reads a task-level size: a number ("1024") or a number with
// its unit ("1 vCPU" = 1024, "2 GB" = 2048); 0 when s is empty, -1 when
// it is not a size.
func parseUnits(s, unit string) int {
	if s == "" {
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	num, ok := strings.CutSuffix(strings.ToLower(strings.TrimSpace(s)), strings.ToLower(unit))
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil || f <= 0 {
		return -1
	}
	return int(f * 1024)
}

func (e *ECS) registerTaskDefinition(in map[string]any) (any, *APIError) {
	family := str(in, "family")
	if family == "" || len(family) > 255 || strings.Trim(family, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return nil, clientError("Family contains invalid characters or is longer than 255 characters.")
	}
	d := &taskDef{
		family:      family,
		cpu:         parseUnits(str(in, "cpu"), "vcpu"),
		memory:      parseUnits(str(in, "memory"), "gb"),
		networkMode: str(in, "networkMode"),
		requires:    strs(in, "requiresCompatibilities"),
	}
	d.tags, _ = in["tags"].([]any)
	if d.cpu < 0 || d.memory < 0 {
		return nil, clientError("Invalid 'cpu' or 'memory' setting for the task.")
	}
	rawDefs, _ := in["containerDefinitions"].([]any)
	if len(rawDefs) == 0 {
		return nil, clientError("Container list cannot be empty.")
	}
	defsOut := make([]any, 0, len(rawDefs))
	for _, r := range rawDefs {
		m, _ := r.(map[string]any)
		c, out, err := containerDefinition(m)
		if err != nil {
			return nil, err
		}
		d.containers = append(d.containers, c)
		defsOut = append(defsOut, out)
	}
	if err := d.validateFargate(str(in, "executionRoleArn")); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	d.revision = len(e.families[family]) + 1
	out := maps.Clone(in)
	delete(out, "tags")
	out["containerDefinitions"] = defsOut
	out["taskDefinitionArn"] = d.arn()
	out["revision"] = d.revision
	out["status"] = "ACTIVE"
	out["compatibilities"] = []string{"EC2", "FARGATE"}
	out["registeredAt"] = epoch(time.Now())
	out["registeredBy"] = "arn:aws:iam::" + Account + ":root"
	if d.cpu > 0 {
		out["cpu"] = strconv.Itoa(d.cpu)
	}
	if d.memory > 0 {
		out["memory"] = strconv.Itoa(d.memory)
	}
	for _, k := range []string{"volumes", "placementConstraints", "requiresAttributes"} {
		if out[k] == nil {
			out[k] = []any{}
		}
	}
	d.out = out
	e.families[family] = append(e.families[family], d)
	tags := d.tags
	if tags == nil {
		tags = []any{}
	}
	return map[string]any{"taskDefinition": out, "tags": tags}, nil
}

// containerDefinition reads a container definition, and says how
// DescribeTaskDefinition shows it.
func containerDefinition(m map[string]any) (containerDef, map[string]any, *APIError) {
	c := containerDef{
		name:        str(m, "name"),
		image:       str(m, "image"),
		command:     strs(m, "command"),
		env:         map[string]string{},
		essential:   m["essential"] != false,
		stopTimeout: 30 * time.Second,
	}
	if c.name == "" || c.image == "" {
		return c, nil, clientError("Container.name and Container.image should not be null or empty.")
	}
	if _, ok := m["command"]; !ok {
		c.command = nil
	}
	for _, kv := range nameValues(m, "environment") {
		c.env[kv[0]] = kv[1]
	}
	if v, ok := m["memory"].(float64); ok {
		c.memory = int(v)
	}
	if v, ok := m["stopTimeout"].(float64); ok {
		c.stopTimeout = time.Duration(v) * time.Second
	}
	if lc, ok := m["logConfiguration"].(map[string]any); ok {
		c.logDriver = str(lc, "logDriver")
		c.logOptions = map[string]string{}
		if opts, ok := lc["options"].(map[string]any); ok {
			for k, v := range opts {
				c.logOptions[k], _ = v.(string)
			}
		}
	}
	out := maps.Clone(m)
	out["essential"] = c.essential
	for _, k := range []string{"portMappings", "environment", "mountPoints", "volumesFrom", "systemControls"} {
		if out[k] == nil {
			out[k] = []any{}
		}
	}
	if out["cpu"] == nil {
		out["cpu"] = 0
	}
	return c, out, nil
}

// nameValues reads a list of {name, value} pairs.
func nameValues(m map[string]any, key string) [][2]string {
	raw, _ := m[key].([]any)
	var out [][2]string
	for _, r := range raw {
		kv, _ := r.(map[string]any)
		out = append(out, [2]string{str(kv, "name"), str(kv, "value")})
	}
	return out
}

// validateFargate checks what Fargate requires of a task definition
// that requires it.
func (d *taskDef) validateFargate(executionRole string) *APIError {
	if !d.fargate() {
		return nil
	}
	switch {
	case d.networkMode != "awsvpc":
		return clientError("Fargate only supports network mode ‘awsvpc’.")
	case d.cpu == 0:
		return clientError("Fargate requires that 'cpu' be defined at the task level.")
	case d.memory == 0:
		return clientError("Fargate requires that 'memory' be defined at the task level.")
	}
	if ok := fargateMemory[d.cpu]; ok == nil || !ok(d.memory) {
		return clientError(fmt.Sprintf("No Fargate configuration exists for given values: %d CPU, %d memory. See the Amazon ECS documentation for the valid values.", d.cpu, d.memory))
	}
	for _, c := range d.containers {
		if c.memory > d.memory {
			return clientError(fmt.Sprintf("Invalid 'memory' setting for container '%s'", c.name))
		}
		if c.logDriver != "awslogs" {
			continue
		}
		if executionRole == "" {
			return clientError("Fargate requires task definition to have execution role ARN to support log driver awslogs.")
		}
		if c.logOptions["awslogs-group"] == "" {
			return clientError("Log driver awslogs requires options: awslogs-group")
		}
		if c.logOptions["awslogs-stream-prefix"] == "" {
			return clientError("Log driver awslogs requires options: awslogs-stream-prefix")
		}
	}
	return nil
}

// lookupDef finds a task definition by family (its latest ACTIVE
// revision), family:revision or ARN. mu is held.
func (e *ECS) lookupDef(ref string) *taskDef {
	if _, rest, ok := strings.Cut(ref, ":task-definition/"); ok {
		ref = rest
	}
	family, rev, hasRev := strings.Cut(ref, ":")
	defs := e.families[family]
	if !hasRev {
		if len(defs) == 0 {
			return nil
		}
		return defs[len(defs)-1]
	}
	n, err := strconv.Atoi(rev)
	if err != nil || n < 1 || n > len(defs) {
		return nil
	}
	return defs[n-1]
}

func (e *ECS) describeTaskDefinition(in map[string]any) (any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.lookupDef(str(in, "taskDefinition"))
	if d == nil {
		return nil, clientError("Unable to describe task definition.")
	}
	out := map[string]any{"taskDefinition": d.out}
	if slices.Contains(strs(in, "include"), "TAGS") {
		tags := d.tags
		if tags == nil {
			tags = []any{}
		}
		out["tags"] = tags
	}
	return out, nil
}

// epoch is a timestamp as AWS JSON writes it: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1e3 }
