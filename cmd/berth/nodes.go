package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

// runNodes runs `berth nodes`: every node with its state, capacity and use.
func runNodes(ctx context.Context, env *cliEnv, args []string) error {
	return listing[client.Node]{
		name:     "nodes",
		synopsis: "nodes [-o json]",
		key:      "nodes",
		header:   nodeHeader(),
		row:      nodeRow,
		fit:      true,
		fetch: func(ctx context.Context, c *client.Client, _ []string, _ string, _ int) ([]client.Node, string, error) {
			nodes, err := c.Nodes(ctx)
			client.MarkSharedEngines(nodes)
			return nodes, "", err
		},
	}.run(ctx, env, args)
}

// nodeHeader and nodeRow are the table of nodes.
func nodeHeader() []string {
	return []string{"ID", "NAME", "POOL", "STATE", "CPU", "MEM", "USED", "SEEN", "HOST", "HEALTHY"}
}

func nodeRow(now time.Time, n client.Node) []string {
	h := host(n.Facts)
	if n.SharedEngine {
		h += " (engine shared)"
	}
	return []string{n.ID, orDash(n.Name), orDash(n.Pool), nodeState(n, now), cpu(n.CPU), mem(n.MemoryMB),
		fmt.Sprintf("%s, %s", cpu(n.UsedCPU), mem(n.UsedMemoryMB)), age(now, n.LastSeen), h, healthy(n.Node)}
}

// nodeState is the node's state, with its notice or drain deadline.
func nodeState(n client.Node, now time.Time) string {
	s := string(n.State)
	switch {
	case n.State != berth.NodeDraining:
	case n.Notice == "spot_interruption":
		s += " (spot)"
	case n.Notice == "rebalance":
		s += " (rebalance)"
	case n.DrainDeadline != nil && n.DrainDeadline.After(now):
		s += " (" + n.DrainDeadline.Sub(now).Round(time.Second).String() + " left)"
	}
	return s
}

// host sums up a node's host facts: "spot m5.large eu-west-1a".
func host(f client.HostFacts) string {
	var s string
	for _, part := range []string{f.Market, f.InstanceType, f.Zone} {
		if part != "" {
			if s != "" {
				s += " "
			}
			s += part
		}
	}
	return orDash(s)
}

func healthy(n berth.Node) string {
	if n.Healthy {
		return "yes"
	}
	if n.Reason != "" {
		return "no: " + oneLine(n.Reason)
	}
	return "no"
}

// runNode runs `berth node drain|undrain ID` and `berth node ID`.
func runNode(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "drain":
			return runNodeDrain(ctx, env, args[1:])
		case "undrain":
			return runNodeUndrain(ctx, env, args[1:])
		case "delete":
			return runNodeDelete(ctx, env, args[1:])
		}
	}
	fs := newFlagSet(env, "node", "node ID [-o json]\n       berth node drain ID [--deadline D]\n       berth node undrain ID\n       berth node delete ID")
	var out output
	addOutputFlag(fs, &out)
	_, n, err := parseNodeArgs(ctx, env, fs, args, "want one node ID (or name), or drain, undrain or delete")
	if err != nil {
		return err
	}
	if err := printNode(env, n, out); err != nil || out.json() {
		return err
	}
	if n.Conflict != "" {
		fmt.Fprintf(env.stdout, "\nconflict: %s\n", oneLine(n.Conflict))
	}
	return nil
}

// runNodeDelete runs `berth node delete ID`: the node is gone at once, its
// jobs re-queued, its credential revoked.
func runNodeDelete(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "node delete", "node delete ID [-o json]")
	var out output
	addOutputFlag(fs, &out)
	c, n, err := parseNodeArgs(ctx, env, fs, args, "want one node ID (or name)")
	if err != nil {
		return err
	}
	n, err = c.DeleteNode(ctx, n.ID)
	if err != nil {
		return err
	}
	return printNode(env, n, out)
}

func runNodeDrain(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "node drain", "node drain ID [--deadline D] [-o json]")
	deadline := fs.Duration("deadline", -1, "stop and re-queue what still runs after this `duration` (0s: at once); by default running work finishes")
	var out output
	addOutputFlag(fs, &out)
	c, n, err := parseNodeArgs(ctx, env, fs, args, "want one node ID (or name)")
	if err != nil {
		return err
	}
	var d *time.Duration
	if *deadline >= 0 {
		d = deadline
	}
	n, err = c.DrainNode(ctx, n.ID, d)
	if err != nil {
		return err
	}
	return printNode(env, n, out)
}

func runNodeUndrain(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "node undrain", "node undrain ID [-o json]")
	var out output
	addOutputFlag(fs, &out)
	c, n, err := parseNodeArgs(ctx, env, fs, args, "want one node ID (or name)")
	if err != nil {
		return err
	}
	n, err = c.UndrainNode(ctx, n.ID)
	if err != nil {
		return err
	}
	return printNode(env, n, out)
}

// findNode finds a node by id, else by its name when one node has it.
// parseNodeArgs parses the flags of fs (every flag of fs takes a value
// but the booleans), wanting one node ID or name, and finds that node.
func parseNodeArgs(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string, usage string) (*client.Client, client.Node, error) {
	valued := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			valued[f.Name] = true
		}
	})
	if err := parseFlags(fs, interspersed(args, valued)); err != nil {
		return nil, client.Node{}, err
	}
	if fs.NArg() != 1 {
		return nil, client.Node{}, usageError(env, fs, "%s", usage)
	}
	c, err := newClient(env)
	if err != nil {
		return nil, client.Node{}, err
	}
	n, err := findNode(ctx, c, fs.Arg(0))
	return c, n, err
}

func findNode(ctx context.Context, c *client.Client, idOrName string) (client.Node, error) {
	n, err := c.Node(ctx, idOrName)
	if err == nil || !errors.Is(err, berth.ErrNotFound) {
		return n, err
	}
	nodes, lerr := c.Nodes(ctx)
	if lerr != nil {
		return client.Node{}, lerr
	}
	var found []client.Node
	for _, n := range nodes {
		if n.Name == idOrName {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return client.Node{}, fmt.Errorf("no node has the id or name %q", idOrName)
	case 1:
		return found[0], nil
	}
	return client.Node{}, fmt.Errorf("%d nodes are named %q: give the id", len(found), idOrName)
}

func printNode(env *cliEnv, n client.Node, out output) error {
	if out.json() {
		return printJSON(env.stdout, n)
	}
	t := newTable(nodeHeader()...)
	t.add(nodeRow(env.clock(), n)...)
	return t.write(env.stdout, env.width)
}

// runPools runs `berth pools [NAME]`: pools, their nodes and join tokens.
func runPools(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 && args[0] == "rotate-token" {
		return runRotateToken(ctx, env, args[1:])
	}
	return listing[client.Pool]{
		name:     "pools",
		synopsis: "pools [NAME] [-o json]",
		args:     1,
		key:      "pools",
		header:   []string{"POOL", "PROVIDER", "MARKET", "NODES", "READY", "INSTANCES", "AUTOSCALE", "CPU", "MEM", "USED", "JOIN TOKEN"},
		row:      poolRow,
		fit:      false, // the token is never cut
		notes: func(p client.Pool) []string {
			if p.Problem == "" {
				return nil
			}
			return []string{"pool " + p.Name + ": " + p.Problem}
		},
		fetch: func(ctx context.Context, c *client.Client, args []string, _ string, _ int) ([]client.Pool, string, error) {
			if len(args) == 1 {
				p, err := c.Pool(ctx, args[0])
				return []client.Pool{p}, "", err
			}
			pools, err := c.Pools(ctx)
			return pools, "", err
		},
	}.run(ctx, env, args)
}

func poolRow(_ time.Time, p client.Pool) []string {
	market := "-"
	if p.Spec != nil && !p.Spec.IsServerless() && p.Provider != berth.ProviderLocal {
		market = string(p.Spec.Market)
	}
	return []string{p.Name, orDash(p.Provider), market, fmt.Sprint(p.Nodes), fmt.Sprint(p.Ready), instances(p), autoscaleSignal(p.Autoscale),
		cpu(p.CPU), mem(p.MemoryMB), fmt.Sprintf("%s, %s", cpu(p.UsedCPU), mem(p.UsedMemoryMB)), p.JoinToken}
}

// instances counts a pool's live instances: "3 (1 booting)", "0 (closed
// until 02:00Z)"; "-" for a pool without a provider.
func instances(p client.Pool) string {
	if p.Spec == nil || p.Spec.IsServerless() || p.Provider == berth.ProviderLocal {
		return "-"
	}
	closed := ""
	if w := p.Window; w != nil && !w.Open {
		closed = " (closed until " + w.Next.UTC().Format("Jan 2 15:04Z") + ")"
	}
	live, booting := 0, 0
	for _, in := range p.Instances {
		switch in.State {
		case "pending":
			booting++
			live++
		case "running":
			live++
		}
	}
	if booting > 0 {
		return fmt.Sprintf("%d (%d booting)%s", live, booting, closed)
	}
	return fmt.Sprint(live) + closed
}

// autoscaleSignal is a pool's autoscaling signal: "room 2, 0 waiting".
func autoscaleSignal(a *client.Autoscale) string {
	if a == nil {
		return "-"
	}
	return fmt.Sprintf("room %g, %d waiting", a.SchedulableLargest, a.Waiting)
}

// runRotateToken runs `berth pools rotate-token NAME [--expires D]`: the
// pool gets a new join token and the old one is refused from then on.
func runRotateToken(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "pools rotate-token", "pools rotate-token NAME [--expires D] [-o json]")
	expires := fs.Duration("expires", 0, "the new token admits nodes for this `duration` only (default: until rotated again)")
	var out output
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, interspersed(args, map[string]bool{"expires": true, "o": true, "output": true})); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(env, fs, "want one pool name")
	}
	if *expires < 0 {
		return usageError(env, fs, "--expires %s: must be positive", *expires)
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	var exp *time.Duration
	if *expires > 0 {
		exp = expires
	}
	p, err := c.RotateJoinToken(ctx, fs.Arg(0), exp)
	if err != nil {
		return err
	}
	if out.json() {
		return printJSON(env.stdout, p)
	}
	fmt.Fprintln(env.stdout, p.JoinToken)
	if p.JoinTokenExpiresAt != nil {
		fmt.Fprintf(env.stderr, "expires %s\n", p.JoinTokenExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}
