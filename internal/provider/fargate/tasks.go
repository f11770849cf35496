package fargate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/berth-run/berth/internal/provider"
)

// describeBatch is the most tasks one DescribeTasks call takes.
const describeBatch = 100

// unavailableAfter is how many polls in a row may fail before Wait says
// that ECS is unavailable, as an engine that cannot be reached.
const unavailableAfter = 6

// Start runs the attempt's task and returns once it runs, or has ended.
// A task that could not start for a reason running again will not fix
// (its image cannot be pulled, its command is not in the image) is a
// *provider.StartError.
func (r *Runner) Start(ctx context.Context, id string) error {
	t, err := r.find(ctx, id)
	if err != nil {
		return err
	}
	r.mu.Lock()
	arn := t.arn
	r.mu.Unlock()
	if arn == "" {
		if _, err = r.run(ctx, t); err != nil {
			return err
		}
	}
	for {
		r.mu.Lock()
		st, stopped, changed := t.st, t.stopped, t.changed
		r.mu.Unlock()
		switch {
		case stopped && st.StartError != "":
			return &provider.StartError{Reason: st.StartError}
		case stopped || st.State == provider.Running:
			return nil
		}
		r.watch()
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("start %s: %w", id, ctx.Err())
		}
	}
}

// run sends the RunTask of t, at most at the launch rate, through the
// capacity providers of the pool in turn, riding out throttling and a
// lack of capacity. Each request has a client token of its own, made of
// the attempt's id and the count of requests ECS answered with a failure
// (no capacity) before: a request whose answer was lost, or that was
// throttled, is sent again with its token, so that ECS runs its task
// once; one answered with a failure is not replayed by its token.
func (r *Runner) run(ctx context.Context, t *task) (string, error) {
	provs := providers(r.cfg.Spec.Capacity)
	backoff := 100 * time.Millisecond
	answered, lost := 0, 0
	for i := 0; ; {
		if err := r.launch.wait(ctx, 1); err != nil {
			return "", fmt.Errorf("run task of %s: %w", t.c.AttemptID, err)
		}
		out, err := r.ecs.RunTask(ctx, r.runInput(t, provs[i], fmt.Sprintf("%s.%d", t.c.AttemptID, answered)))
		var reason string
		var ae smithy.APIError
		switch {
		case err != nil && !errors.As(err, &ae):
			// No answer: the same request again, a few times.
			if lost++; lost > 3 || ctx.Err() != nil {
				return "", fmt.Errorf("run task of %s: %w", t.c.AttemptID, err)
			}
			continue
		case isCode(err, "ThrottlingException"):
			reason = "throttled"
		case isCode(err, "ClientException"), isCode(err, "InvalidParameterException"), isCode(err, "AccessDeniedException"):
			return "", &provider.StartError{Reason: fmt.Sprintf("ECS refused the task: %v", err)}
		case err != nil:
			return "", fmt.Errorf("run task of %s: %w", t.c.AttemptID, err)
		case len(out.Tasks) > 0:
			arn := aws.ToString(out.Tasks[0].TaskArn)
			r.update(t, arn, &out.Tasks[0])
			return arn, nil
		case len(out.Failures) > 0:
			reason = aws.ToString(out.Failures[0].Reason)
			if !capacityShort(reason) {
				return "", fmt.Errorf("run task of %s: %s", t.c.AttemptID, reason)
			}
			if i+1 < len(provs) {
				answered++
				i++ // Spot has no capacity: on to on-demand at once
				continue
			}
		default:
			return "", fmt.Errorf("run task of %s: ECS returned neither a task nor a failure", t.c.AttemptID)
		}
		// Throttled, or no capacity on the last provider: wait and try
		// again from the first. A throttled request ran nothing, so its
		// token may be sent again; one ECS answered with a failure may not.
		if reason != "throttled" {
			answered++
		}
		lost, i = 0, 0
		d := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, 10*time.Second)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return "", fmt.Errorf("run task of %s (%s): %w", t.c.AttemptID, reason, ctx.Err())
		}
	}
}

// runInput is the RunTask request of t on capacity provider prov.
func (r *Runner) runInput(t *task, prov, token string) *ecs.RunTaskInput {
	spec, c := r.cfg.Spec, t.c
	tags := []types.Tag{
		{Key: aws.String(TagCluster), Value: aws.String(r.cfg.Cluster)},
		{Key: aws.String(TagPool), Value: aws.String(spec.Name)},
		{Key: aws.String(provider.LabelJob), Value: aws.String(c.JobID)},
		{Key: aws.String(provider.LabelAttempt), Value: aws.String(c.AttemptID)},
		{Key: aws.String(provider.LabelNode), Value: aws.String(c.Node)},
	}
	public := types.AssignPublicIpDisabled
	if spec.AssignPublicIP {
		public = types.AssignPublicIpEnabled
	}
	over := types.ContainerOverride{Name: aws.String(ContainerName), Environment: sortedEnv(c.Env)}
	if len(c.Command) > 0 {
		over.Command = c.Command
	}
	return &ecs.RunTaskInput{
		Cluster:                  aws.String(spec.Cluster),
		TaskDefinition:           aws.String(t.def),
		Count:                    aws.Int32(1),
		StartedBy:                aws.String(StartedBy),
		ClientToken:              aws.String(token),
		Group:                    aws.String("berth:" + spec.Name),
		CapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String(prov), Weight: 1}},
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: spec.Subnets, SecurityGroups: spec.SecurityGroups, AssignPublicIp: public}},
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{over}},
		Tags:      tags,
	}
}

// capacityShort reports whether a RunTask failure says the capacity
// provider has no capacity now.
func capacityShort(reason string) bool {
	r := strings.ToLower(reason)
	return strings.Contains(r, "capacity is unavailable") || strings.Contains(r, "insufficient capacity") || strings.Contains(r, "resource:capacity")
}

// update records what ECS says of t's task, and wakes its waiters. A
// task that ECS reports for an attempt removed before its ARN was known
// (its RunTask's answer was lost) is stopped: nobody owns it any more.
func (r *Runner) update(t *task, arn string, d *types.Task) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.arn == "" && arn != "" {
		t.arn = arn
		if t.removed && running(d) {
			go r.stopOrphan(arn)
		}
		select {
		case <-t.started:
		default:
			close(t.started)
		}
	}
	if arn != "" && arn != t.arn {
		// A second task for one attempt: never adopted, stopped.
		if running(d) {
			go r.stopOrphan(arn)
		}
		return
	}
	if d == nil || t.stopped {
		return
	}
	t.st = status(t.c, t.st, d)
	t.stopped = t.st.State == provider.Exited
	close(t.changed)
	t.changed = make(chan struct{})
}

// running reports whether a described task has not stopped.
func running(d *types.Task) bool {
	return d != nil && aws.ToString(d.LastStatus) != "STOPPED" && aws.ToString(d.DesiredStatus) != "STOPPED"
}

// stopOrphan stops a task no attempt owns.
func (r *Runner) stopOrphan(arn string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = r.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(r.cfg.Spec.Cluster), Task: aws.String(arn),
		Reason: aws.String("a second task for one berth attempt")})
}

// status is what a task's description says of its attempt's container.
func status(c provider.Container, st provider.Status, d *types.Task) provider.Status {
	if d.StartedAt != nil {
		st.StartedAt = *d.StartedAt
	}
	last := aws.ToString(d.LastStatus)
	switch last {
	case "RUNNING":
		st.State = provider.Running
	case "DEACTIVATING", "STOPPING", "DEPROVISIONING":
		// On the way to STOPPED: running only if it ever ran (a task
		// whose image could not be pulled passes here too).
		if d.StartedAt != nil {
			st.State = provider.Running
		}
	case "STOPPED":
		st.State = provider.Exited
	default: // PROVISIONING, PENDING, ACTIVATING: not running yet
		return st
	}
	if last != "STOPPED" {
		return st
	}
	if d.StoppedAt != nil {
		st.FinishedAt = *d.StoppedAt
	}
	if st.StartedAt.IsZero() {
		st.StartedAt = st.FinishedAt
	}
	var ct *types.Container
	for i := range d.Containers {
		if aws.ToString(d.Containers[i].Name) == ContainerName {
			ct = &d.Containers[i]
		}
	}
	why := aws.ToString(d.StoppedReason)
	if ct != nil && aws.ToString(ct.Reason) != "" {
		why = aws.ToString(ct.Reason)
	}
	switch {
	case strings.Contains(why, "CannotPullContainerError"):
		st.StartError = fmt.Sprintf("image %s not found, or not pullable with the pool's execution role: %s", c.Image, why)
	case strings.Contains(why, "CannotStartContainerError"):
		st.StartError = why
	case d.StopCode == types.TaskStopCodeSpotInterruption:
		st.Reclaimed = "Fargate Spot capacity was reclaimed: " + aws.ToString(d.StoppedReason)
	case ct != nil && ct.ExitCode != nil:
		st.ExitCode = int(*ct.ExitCode)
		st.OOMKilled = strings.Contains(why, "OutOfMemoryError")
	case d.StopCode == types.TaskStopCodeTaskFailedToStart:
		// ResourceInitializationError and the like: the network, the
		// secrets or the log group failed, which may pass.
		st.Reclaimed = "the task failed to start: " + why
	default:
		st.Reclaimed = "the task stopped without an exit code: " + why
	}
	return st
}

// find returns the attempt id's task: one this runner created, or one
// that ECS lists (after a restart). An unknown or removed one is
// provider.ErrNotFound.
func (r *Runner) find(ctx context.Context, id string) (*task, error) {
	r.mu.Lock()
	t, ok := r.tasks[id]
	removed := ok && t.removed
	r.mu.Unlock()
	if removed {
		return nil, fmt.Errorf("%s: %w", id, provider.ErrNotFound)
	}
	if ok {
		return t, nil
	}
	if _, err := r.List(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.tasks[id]; ok && !t.removed {
		return t, nil
	}
	return nil, fmt.Errorf("%s: %w", id, provider.ErrNotFound)
}

// Wait blocks until the attempt's task has stopped, or ctx ends.
func (r *Runner) Wait(ctx context.Context, id string) (provider.Status, error) {
	t, err := r.find(ctx, id)
	if err != nil {
		return provider.Status{}, err
	}
	for {
		r.mu.Lock()
		st, stopped, removed, changed := t.st, t.stopped, t.removed, t.changed
		failures, pollErr := r.pollFailures, r.pollErr
		r.mu.Unlock()
		switch {
		case removed:
			return st, fmt.Errorf("%s: %w", id, provider.ErrNotFound)
		case stopped:
			return st, nil
		case failures >= unavailableAfter:
			return st, fmt.Errorf("%s: ECS has not answered %d polls (%v): %w", id, failures, pollErr, provider.ErrUnavailable)
		}
		r.watch()
		select {
		case <-changed:
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}

// Stop asks ECS to stop the attempt's task and waits until it has: ECS
// sends SIGTERM, then SIGKILL after the task definition's stopTimeout
// (the pool's interruption grace), whatever grace says. Stopping a task
// not running is not an error.
func (r *Runner) Stop(ctx context.Context, id string, grace time.Duration) error {
	t, err := r.find(ctx, id)
	if err != nil {
		return err
	}
	r.mu.Lock()
	arn, stopped := t.arn, t.stopped
	r.mu.Unlock()
	if arn == "" || stopped {
		return nil
	}
	reason := "stopped by berth"
	if grace == 0 {
		reason = "killed by berth"
	}
	if _, err := r.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(r.cfg.Spec.Cluster), Task: aws.String(arn),
		Reason: aws.String(reason)}); err != nil && !isCode(err, "InvalidParameterException") {
		return fmt.Errorf("stop task %s: %w", arn, err)
	}
	_, err = r.Wait(ctx, id)
	return err
}

// Inspect returns the status of the attempt's task, as ECS says it now.
func (r *Runner) Inspect(ctx context.Context, id string) (provider.Status, error) {
	t, err := r.find(ctx, id)
	if err != nil {
		return provider.Status{}, err
	}
	r.mu.Lock()
	arn, stopped := t.arn, t.stopped
	r.mu.Unlock()
	if arn != "" && !stopped {
		if err := r.describe(ctx, []*task{t}); err != nil {
			return provider.Status{}, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return t.st, nil
}

// List returns every attempt of the pool. The first call asks ECS for
// the tasks started by berth and tagged with the cluster and the pool
// (running, and the stopped ones ECS still describes, about an hour), as
// a restarted server must; later calls answer from what the runner knows,
// which its poll loop keeps current, and ask ECS again for running tasks
// only every ListInterval: an agent lists its containers after every
// change of its work, and a pool of a thousand tasks would otherwise
// cost tens of calls each time.
func (r *Runner) List(ctx context.Context) ([]provider.Status, error) {
	r.mu.Lock()
	first, due := r.listedAt.IsZero(), r.cfg.Now().Sub(r.listedAt) >= r.cfg.ListInterval
	r.mu.Unlock()
	if first || due {
		desired := []types.DesiredStatus{types.DesiredStatusRunning}
		if first {
			desired = append(desired, types.DesiredStatusStopped)
		}
		if err := r.listECS(ctx, desired); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune()
	list := make([]provider.Status, 0, len(r.tasks))
	for _, t := range r.tasks {
		if !t.removed {
			list = append(list, t.st)
		}
	}
	return list, nil
}

// listECS lists and describes the tasks of the desired statuses, and
// records those of this pool.
func (r *Runner) listECS(ctx context.Context, desired []types.DesiredStatus) error {
	now := r.cfg.Now()
	var arns []string
	for _, d := range desired {
		in := &ecs.ListTasksInput{Cluster: aws.String(r.cfg.Spec.Cluster), StartedBy: aws.String(StartedBy), DesiredStatus: d}
		for p := ecs.NewListTasksPaginator(r.ecs, in); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list tasks: %w", err)
			}
			arns = append(arns, out.TaskArns...)
		}
	}
	for i := 0; i < len(arns); i += describeBatch {
		batch := arns[i:min(i+describeBatch, len(arns))]
		out, err := r.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(r.cfg.Spec.Cluster), Tasks: batch,
			Include: []types.TaskField{types.TaskFieldTags}})
		if err != nil {
			return fmt.Errorf("describe tasks: %w", err)
		}
		for j := range out.Tasks {
			r.adopt(&out.Tasks[j])
		}
	}
	r.mu.Lock()
	r.listedAt = now
	r.mu.Unlock()
	return nil
}

// prune forgets attempts removed more than two hours ago: ECS has
// forgotten their tasks by then too. r.mu is held.
func (r *Runner) prune() {
	cutoff := r.cfg.Now().Add(-2 * time.Hour)
	for id, t := range r.tasks {
		if t.removed && t.removedAt.Before(cutoff) {
			delete(r.tasks, id)
		}
	}
}

// adopt records a task ECS described, if it is one of this pool's.
func (r *Runner) adopt(d *types.Task) {
	tags := map[string]string{}
	for _, tg := range d.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	att := tags[provider.LabelAttempt]
	if tags[TagCluster] != r.cfg.Cluster || tags[TagPool] != r.cfg.Spec.Name || att == "" {
		return
	}
	r.mu.Lock()
	t, ok := r.tasks[att]
	if !ok {
		c := provider.Container{JobID: tags[provider.LabelJob], AttemptID: att, Node: tags[provider.LabelNode]}
		for _, ct := range d.Containers {
			if aws.ToString(ct.Name) == ContainerName {
				c.Image = aws.ToString(ct.Image)
			}
		}
		t = &task{c: c, def: aws.ToString(d.TaskDefinitionArn), started: make(chan struct{}), changed: make(chan struct{}),
			removed: tags[TagRemoved] != "", removedAt: r.cfg.Now(),
			st: provider.Status{ID: att, JobID: c.JobID, AttemptID: att, Node: c.Node, State: provider.Created}}
		r.tasks[att] = t
	}
	r.mu.Unlock()
	r.update(t, aws.ToString(d.TaskArn), d)
}

// Remove forgets the attempt, stopping its task if it runs. ECS keeps a
// stopped task described for about an hour: it is tagged berth.removed so
// that List leaves it out after a restart too.
func (r *Runner) Remove(ctx context.Context, id string) error {
	t, err := r.find(ctx, id)
	if err != nil {
		return err
	}
	r.mu.Lock()
	arn, stopped := t.arn, t.stopped
	r.mu.Unlock()
	if arn != "" {
		if !stopped {
			if _, err := r.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(r.cfg.Spec.Cluster), Task: aws.String(arn),
				Reason: aws.String("removed by berth")}); err != nil && !isCode(err, "InvalidParameterException") {
				return fmt.Errorf("stop task %s: %w", arn, err)
			}
		}
		if _, err := r.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn),
			Tags: []types.Tag{{Key: aws.String(TagRemoved), Value: aws.String("true")}}}); err != nil &&
			!isCode(err, "ResourceNotFoundException") && !isCode(err, "InvalidParameterException") { // ECS forgot it
			return fmt.Errorf("tag task %s removed: %w", arn, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.removed {
		return fmt.Errorf("%s: %w", id, provider.ErrNotFound)
	}
	t.removed, t.removedAt = true, r.cfg.Now()
	select {
	case <-t.started:
	default:
		close(t.started)
	}
	close(t.changed)
	t.changed = make(chan struct{})
	return nil
}

// Logs copies the task's log, as the awslogs driver wrote it to CloudWatch
// Logs, to w from the beginning, and follows it until the task has stopped
// and its log has been read to its end.
func (r *Runner) Logs(ctx context.Context, id string, w io.Writer) error {
	t, err := r.find(ctx, id)
	if err != nil {
		return err
	}
	select {
	case <-t.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	arn := t.arn
	r.mu.Unlock()
	if arn == "" {
		return fmt.Errorf("%s: %w", id, provider.ErrNotFound)
	}
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(r.cfg.Spec.LogGroup),
		LogStreamName: aws.String(logStream(arn)), StartFromHead: aws.Bool(true)}
	tick := time.NewTicker(r.cfg.LogInterval)
	defer tick.Stop()
	// The awslogs driver's last events may land after the task stopped:
	// the log ends after two reads that found nothing since, one
	// interval apart. A failed read is tried again, a few times once the
	// task has stopped.
	quiet, failed := 0, 0
	for {
		r.mu.Lock()
		done := t.stopped || t.removed
		r.mu.Unlock()
		n, err := r.readLog(ctx, in, w)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			if failed++; done && failed > 5 {
				return err
			}
		case n > 0:
			quiet, failed = 0, 0
			continue // more may wait
		case done:
			if quiet++; quiet >= 2 {
				return nil
			}
		}
		r.watch()
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// readLog reads the next page of a log into w and moves in's token on; a
// stream not created yet reads as empty.
func (r *Runner) readLog(ctx context.Context, in *cloudwatchlogs.GetLogEventsInput, w io.Writer) (int, error) {
	if err := r.logRead.wait(ctx, 1); err != nil {
		return 0, err
	}
	out, err := r.logs.GetLogEvents(ctx, in)
	var missing *logtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read log %s: %w", aws.ToString(in.LogStreamName), err)
	}
	if err := writeEvents(w, out.Events); err != nil {
		return 0, err
	}
	if out.NextForwardToken != nil {
		in.NextToken = out.NextForwardToken
	}
	return len(out.Events), nil
}

// watch starts the poll loop if it does not run, and has it poll now.
func (r *Runner) watch() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.polling {
		r.polling, r.pollFailures, r.pollErr = true, 0, nil
		ctx, cancel := context.WithCancel(context.Background())
		r.stopPoll = cancel
		go r.poll(ctx)
	}
}

// Close stops the poll loop.
func (r *Runner) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopPoll != nil {
		r.stopPoll()
		r.polling, r.stopPoll = false, nil
	}
}

// poll describes the tasks that run or are starting every PollInterval,
// in batches, until none is left; then it stops until watched again.
func (r *Runner) poll(ctx context.Context) {
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		r.mu.Lock()
		if ctx.Err() != nil { // closed, or replaced by a newer loop
			r.mu.Unlock()
			return
		}
		var live []*task
		for _, t := range r.tasks {
			if t.arn != "" && !t.stopped && !t.removed {
				live = append(live, t)
			}
		}
		if len(live) == 0 {
			r.polling = false
			r.stopPoll()
			r.stopPoll = nil
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		var failed error
		for i := 0; i < len(live); i += describeBatch {
			if err := r.describe(ctx, live[i:min(i+describeBatch, len(live))]); err != nil && ctx.Err() == nil {
				failed = err // the next round asks again
			}
		}
		r.mu.Lock()
		if r.pollErr = failed; failed != nil {
			r.pollFailures++
		} else {
			r.pollFailures = 0
		}
		for _, t := range live { // their waiters look again
			close(t.changed)
			t.changed = make(chan struct{})
		}
		r.mu.Unlock()
	}
}

// describe asks ECS about ts (at most describeBatch) and records what it
// says.
func (r *Runner) describe(ctx context.Context, ts []*task) error {
	byARN := make(map[string]*task, len(ts))
	arns := make([]string, 0, len(ts))
	r.mu.Lock()
	for _, t := range ts {
		byARN[t.arn] = t
		arns = append(arns, t.arn)
	}
	r.mu.Unlock()
	out, err := r.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(r.cfg.Spec.Cluster), Tasks: arns})
	if err != nil {
		return fmt.Errorf("describe tasks: %w", err)
	}
	for i := range out.Tasks {
		if t := byARN[aws.ToString(out.Tasks[i].TaskArn)]; t != nil {
			r.update(t, "", &out.Tasks[i])
		}
	}
	for _, f := range out.Failures {
		// A task ECS no longer knows ended long ago, or never was.
		if t := byARN[aws.ToString(f.Arn)]; t != nil && aws.ToString(f.Reason) == "MISSING" {
			r.update(t, "", &types.Task{LastStatus: aws.String("STOPPED"), StoppedReason: aws.String("ECS no longer knows the task")})
		}
	}
	return nil
}

// bucket is a token bucket: rate tokens a second, up to burst.
type bucket struct {
	rate, burst float64
	now         func() time.Time
	ch          chan struct{} // a lock that a context can give up on

	tokens float64
	at     time.Time
}

func newBucket(rate, burst float64, now func() time.Time) *bucket {
	b := &bucket{rate: rate, burst: max(burst, 1), now: now, ch: make(chan struct{}, 1), tokens: max(burst, 1), at: now()}
	return b
}

// wait takes n tokens, waiting until they are there or ctx ends.
func (b *bucket) wait(ctx context.Context, n float64) error {
	select {
	case b.ch <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-b.ch }()
	for {
		now := b.now()
		b.tokens = min(b.burst, b.tokens+now.Sub(b.at).Seconds()*b.rate)
		b.at = now
		if b.tokens >= n {
			b.tokens -= n
			return nil
		}
		d := time.Duration((n - b.tokens) / b.rate * float64(time.Second))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
