package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/berth-run/berth/client"
)

// runLogs runs `berth logs [-f] [-o json] ID`: the job's stdout to stdout
// and its stderr to stderr, as docker logs does, each attempt's under a
// header line when the job has more than one.
func runLogs(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "logs", "logs [-f] [-o json] ID\n\nWith -o json, each piece of output is one JSON object a line: time, attempt, stream, text\n(and data, the text's bytes in base64, when they are not UTF-8).")
	var follow bool
	var out output
	fs.BoolVar(&follow, "f", false, "follow: keep printing until the job finishes")
	fs.BoolVar(&follow, "follow", false, "follow: keep printing until the job finishes")
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(env, fs, "want one job ID")
	}
	id := fs.Arg(0)
	c, err := newClient(env)
	if err != nil {
		return err
	}
	job, err := c.Job(ctx, id)
	if err != nil {
		return err
	}
	s, err := c.LogEntries(ctx, id, client.LogQuery{Follow: follow})
	if err != nil {
		return err
	}
	defer s.Close()
	p := logPrinter{env: env, c: c, job: job, json: out.json()}
	for {
		e, err := s.Next()
		if err == io.EOF {
			return nil
		}
		if ctx.Err() != nil {
			return exitError{exitInterrupted}
		}
		if err == nil {
			err = p.print(ctx, e)
		}
		if err != nil {
			return err
		}
	}
}

// logPrinter prints a job's output entry by entry.
type logPrinter struct {
	env  *cliEnv
	c    *client.Client
	job  client.Job // refreshed when an attempt it does not know writes
	json bool
	last string // the attempt of the last entry printed
}

func (p *logPrinter) print(ctx context.Context, e client.LogEntry) error {
	if p.json {
		enc := json.NewEncoder(p.env.stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(e)
	}
	if e.Attempt != p.last {
		if err := p.header(ctx, e.Attempt); err != nil {
			return err
		}
		p.last = e.Attempt
	}
	w := p.env.stdout
	if e.Stream == "stderr" {
		w = p.env.stderr
	}
	_, err := w.Write(e.Bytes())
	return err
}

// header writes the line that starts an attempt's output, "==> attempt
// att_1 on node node_1 <==", when the job has more than one attempt (a job
// followed from its first attempt gets headers from its second).
func (p *logPrinter) header(ctx context.Context, attempt string) error {
	node, known := p.node(attempt)
	if !known {
		job, err := p.c.Job(ctx, p.job.ID)
		if err != nil {
			return err
		}
		p.job = job
		node, _ = p.node(attempt)
	}
	if len(p.job.Attempts) < 2 {
		return nil
	}
	sep := ""
	if p.last != "" {
		sep = "\n"
	}
	_, err := fmt.Fprintf(p.env.stdout, "%s==> attempt %s on node %s <==\n", sep, escape(attempt), escape(orDash(node)))
	return err
}

// node returns the node the attempt ran on, and whether the job has it.
func (p *logPrinter) node(attempt string) (string, bool) {
	for _, a := range p.job.Attempts {
		if a.ID == attempt {
			return a.Node, true
		}
	}
	return "", false
}
