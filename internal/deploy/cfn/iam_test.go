package cfn

import (
	"fmt"
	"strings"
	"testing"
)

// unscopable are the write actions AWS lets no resource scope: they may
// have "Resource": "*", with a condition where AWS has one.
var unscopable = map[string]string{
	"ecs:RegisterTaskDefinition": "no resource-level permissions",
	"ecr:GetAuthorizationToken":  "an account-wide token",
}

// readPrefixes are the verbs of actions that only read.
var readPrefixes = []string{"Describe", "Get", "List", "BatchGet", "BatchCheck", "Receive"}

// TestIAM: over every template, no statement allows "*" actions, and
// none allows a write on "Resource": "*" without a condition, but where
// AWS offers nothing to scope it. The server launches and terminates only
// instances tagged with its cluster, passes only the stack's roles, runs
// tasks only on its cluster; workers read only their own join token.
func TestIAM(t *testing.T) {
	for name, tp := range everyTemplate(t) {
		g := generic(t, tp)
		for id, r := range g["Resources"].(map[string]any) {
			props := asMap(asMap(r)["Properties"])
			var docs []any
			for _, p := range asList(props["Policies"]) {
				docs = append(docs, asMap(p)["PolicyDocument"])
			}
			if d, ok := props["PolicyDocument"]; ok {
				docs = append(docs, d)
			}
			for _, d := range docs {
				for _, st := range asList(asMap(d)["Statement"]) {
					checkStatement(t, name+": "+id, asMap(st))
				}
			}
		}
		srv := statements(g, "ServerRole")
		for sid, want := range map[string]string{
			"TerminateClusterInstances": "aws:ResourceTag/berth.cluster",
			"LaunchTaggedInstances":     "aws:RequestTag/berth.cluster",
			"RunTasksOnCluster":         "ecs:cluster",
		} {
			if st, ok := srv[sid]; ok && !strings.Contains(fmt.Sprint(st["Condition"]), want) {
				t.Errorf("%s: ServerRole's %s has no condition on %s", name, sid, want)
			}
		}
		if st, ok := srv["PassWorkerRoles"]; ok && strings.Contains(fmt.Sprint(st["Resource"]), "*") {
			t.Errorf("%s: the server may pass roles %v: want the stack's roles only", name, st["Resource"])
		}
		for id, r := range g["Resources"].(map[string]any) {
			if !strings.HasSuffix(id, "Role") || !strings.HasPrefix(id, "Pool") || asMap(r)["Type"] != "AWS::IAM::Role" {
				continue
			}
			for _, st := range statements(g, id) {
				res := fmt.Sprint(st["Resource"])
				if strings.Count(res, "join-token") != 1 {
					t.Errorf("%s: %s may read %s: want its own join token only", name, id, res)
				}
			}
		}
	}
}

// statements are the statements of a role's inline policies by Sid.
func statements(g map[string]any, role string) map[string]map[string]any {
	out := map[string]map[string]any{}
	props := asMap(asMap(asMap(g["Resources"])[role])["Properties"])
	for _, p := range asList(props["Policies"]) {
		for _, st := range asList(asMap(asMap(p)["PolicyDocument"])["Statement"]) {
			out[fmt.Sprint(asMap(st)["Sid"])] = asMap(st)
		}
	}
	return out
}

func checkStatement(t *testing.T, where string, st map[string]any) {
	t.Helper()
	actions := []string{}
	switch a := st["Action"].(type) {
	case string:
		actions = append(actions, a)
	case []any:
		for _, x := range a {
			actions = append(actions, x.(string))
		}
	}
	wildcard := st["Resource"] == "*"
	for _, a := range actions {
		if a == "*" || strings.HasSuffix(a, ":*") {
			t.Errorf("%s: statement %v allows the action %q", where, st["Sid"], a)
		}
		if !wildcard || isRead(a) || st["Condition"] != nil {
			continue
		}
		if _, ok := unscopable[a]; !ok {
			t.Errorf("%s: statement %v allows the write %s on every resource: scope it by ARN or condition", where, st["Sid"], a)
		}
	}
}

func isRead(action string) bool {
	_, verb, _ := strings.Cut(action, ":")
	for _, p := range readPrefixes {
		if strings.HasPrefix(verb, p) {
			return true
		}
	}
	return false
}
