package main

import (
	"context"
	"fmt"

	berth "github.com/berth-run/berth"
)

// runNodes runs `berth nodes`: a table of nodes with their capacity and use.
func runNodes(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "nodes", "nodes [-o json]")
	var out output
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []berth.Node{}
	}
	if out.json() {
		return printJSON(env.stdout, struct {
			Nodes []berth.Node `json:"nodes"`
		}{nodes})
	}
	t := newTable("NAME", "POOL", "STATE", "CPU", "MEM", "USED", "HEALTHY")
	for _, n := range nodes {
		healthy := "yes"
		if !n.Healthy {
			healthy = "no"
			if n.Reason != "" {
				healthy += ": " + oneLine(n.Reason)
			}
		}
		used := fmt.Sprintf("%s, %s", cpu(n.UsedCPU), mem(n.UsedMemoryMB))
		t.add(orDash(n.Name), orDash(n.Pool), string(n.State), cpu(n.CPU), mem(n.MemoryMB), used, healthy)
	}
	return t.write(env.stdout, env.width)
}
