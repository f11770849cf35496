package awsfake

import (
	"context"
	"errors"
	"time"
)

// fargateMaxStopTimeout is the longest a Fargate container is given
// between SIGTERM and SIGKILL.
const fargateMaxStopTimeout = 120 * time.Second

// lifecycle takes t from PROVISIONING to STOPPED: it waits out the
// provisioning delay, starts the containers, and waits for them to exit
// or for the task to be stopped.
func (e *ECS) lifecycle(t *task) {
	defer e.wg.Done()
	if d := e.cfg.ProvisioningDelay; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-t.stop:
			timer.Stop()
		}
	}
	e.mu.Lock()
	if t.desiredStatus == "STOPPED" {
		e.finishLocked(t)
		e.mu.Unlock()
		return
	}
	t.setStatus("PENDING")
	t.pullStartedAt = time.Now()
	e.mu.Unlock()

	if reason := e.startContainers(t); reason != "" {
		e.mu.Lock()
		if t.desiredStatus != "STOPPED" {
			t.desiredStatus, t.stopCode, t.stoppedReason = "STOPPED", "TaskFailedToStart", reason
			t.stoppingAt = time.Now()
			close(t.stop)
		}
		e.finishLocked(t)
		e.mu.Unlock()
		return
	}
	e.mu.Lock()
	now := time.Now()
	t.pullStoppedAt, t.startedAt = now, now
	for _, c := range t.containers {
		c.lastStatus = "RUNNING"
	}
	t.setStatus("RUNNING")
	e.mu.Unlock()
	e.watch(t)
}

// startContainers starts t's containers, in order, and says why they
// could not all start ("" when they did); the ones started are killed
// then.
func (e *ECS) startContainers(t *task) string {
	for i, c := range t.containers {
		spec := ContainerSpec{
			Task: t.arn(), Name: c.def.name, Image: c.def.image, Command: c.command, Env: c.env,
			MemoryMiB: c.def.memory, CPU: t.def.cpu,
		}
		if spec.MemoryMiB == 0 {
			spec.MemoryMiB = t.def.memory
		}
		if c.logStream != "" && e.cfg.Logs != nil {
			group := c.def.logOptions["awslogs-group"]
			if !e.cfg.Logs.openStream(group, c.logStream, c.def.logOptions["awslogs-create-group"] == "true") {
				return e.abortStart(t, i, ReasonNoLogGroup)
			}
			logs, stream := e.cfg.Logs, c.logStream
			spec.Log = func(l LogLine) { logs.write(group, stream, l) }
		}
		e.mu.Lock()
		stopped := t.desiredStatus == "STOPPED"
		e.mu.Unlock()
		if stopped {
			return e.abortStart(t, i, "")
		}
		p, err := e.cfg.Engine.Start(context.Background(), spec)
		if err != nil {
			var se *StartError
			reason := "CannotStartContainerError: " + err.Error()
			if errors.As(err, &se) {
				reason = se.Reason
			}
			return e.abortStart(t, i, reason)
		}
		e.mu.Lock()
		c.proc = p
		kill := t.kill
		e.mu.Unlock()
		if kill {
			p.Kill()
		}
	}
	return ""
}

// abortStart kills the containers of t started before the i-th and
// notes the reason on the i-th; it returns the reason.
func (e *ECS) abortStart(t *task, i int, reason string) string {
	for _, c := range t.containers[:i] {
		c.proc.Kill()
		c.proc.Wait()
	}
	e.mu.Lock()
	t.containers[i].reason = reason
	e.mu.Unlock()
	if reason == "" {
		return "stopped while starting" // the task's stop reason stands
	}
	return reason
}

// watch waits for t's containers to exit: the exit of an essential one
// stops the others, with their stopTimeout, as does a stop of the task.
func (e *ECS) watch(t *task) {
	type exited struct {
		c    *taskContainer
		exit Exit
	}
	exits := make(chan exited, len(t.containers))
	for _, c := range t.containers {
		go func() { exits <- exited{c, c.proc.Wait()} }()
	}
	stop := t.stop
	for left := len(t.containers); left > 0; {
		select {
		case x := <-exits:
			left--
			e.mu.Lock()
			code := x.exit.Code
			x.c.exitCode, x.c.lastStatus = &code, "STOPPED"
			if x.exit.OOM {
				x.c.reason = ReasonOutOfMemory
			}
			if x.c.def.essential {
				e.stopLocked(t, "EssentialContainerExited", ReasonEssentialExited)
			}
			e.mu.Unlock()
		case <-stop:
			stop = nil
			e.mu.Lock()
			kill := t.kill
			if t.lastStatus == "RUNNING" {
				t.setStatus("STOPPING")
			}
			e.mu.Unlock()
			for _, c := range t.containers {
				if kill {
					c.proc.Kill()
				} else {
					c.proc.Stop(min(c.def.stopTimeout, fargateMaxStopTimeout))
				}
			}
		}
	}
	e.mu.Lock()
	// Every container exited by itself, none of them essential.
	e.stopLocked(t, "EssentialContainerExited", ReasonEssentialExited)
	e.finishLocked(t)
	e.mu.Unlock()
}

// finishLocked takes t through DEPROVISIONING to STOPPED. mu is held.
func (e *ECS) finishLocked(t *task) {
	now := time.Now()
	t.setStatus("DEPROVISIONING")
	t.executionStoppedAt = now
	for _, c := range t.containers {
		c.lastStatus = "STOPPED"
	}
	t.setStatus("STOPPED")
	t.stoppedAt = now
}
