package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/deploy/cfn"
	"github.com/berth-run/berth/internal/sim"
	"github.com/berth-run/berth/internal/strict"
)

// docFiles are the pages whose examples readers copy: the README and
// docs/*.md, from this package's folder.
func docFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("docs/*.md: %v, %v", pages, err)
	}
	return append([]string{"../../README.md"}, pages...)
}

// block is one fenced code block of a Markdown page.
type block struct {
	lang string // the fence's info string: json, yaml, sh, console...
	line int    // of the opening fence, counted from 1
	text string
}

// fencedBlocks returns the fenced code blocks of a Markdown file.
func fencedBlocks(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []block
		cur    *block
		body   strings.Builder
		indent string
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			indent = line[:len(line)-len(trimmed)]
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: n}
			body.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(strings.TrimPrefix(line, indent))
			body.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: a code block is never closed", path, cur.line)
	}
	return blocks
}

// TestDocumentedDocuments reads every fenced JSON or YAML block of the
// README and docs/*.md as berth reads such a document: a job as berth
// submit -f decodes it and the server checks it, a berth.yaml as berth
// server --config loads it and builds its pools, a scenario as berth sim
// --scenario reads it. A block that is none of them fails: fence a part
// of a document as "json fragment" (or "yaml fragment"), which is not
// read. A berth.yaml with an ec2 or fargate pool is only validated:
// building it asks AWS.
func TestDocumentedDocuments(t *testing.T) {
	kinds := map[string]int{}
	for _, page := range docFiles(t) {
		for _, b := range fencedBlocks(t, page) {
			if b.lang != "json" && b.lang != "yaml" {
				continue
			}
			name := fmt.Sprintf("%s:%d", strings.TrimPrefix(page, "../../"), b.line)
			t.Run(name, func(t *testing.T) {
				kinds[checkDocument(t, []byte(b.text), filepath.Dir(page))]++
			})
		}
	}
	// The pages show at least two jobs, a berth.yaml and a scenario: fewer
	// means the blocks were not found.
	for _, kind := range []string{"job", "berth.yaml", "scenario"} {
		if kinds[kind] == 0 {
			t.Errorf("found no documented %s (%v)", kind, kinds)
		}
	}
}

// checkDocument reads doc, from a page in dir, as the kind of document it
// is, and returns that kind.
func checkDocument(t *testing.T, doc []byte, dir string) string {
	t.Helper()
	var top map[string]any
	if err := yaml.Unmarshal(doc, &top); err != nil {
		t.Fatalf("not a JSON object or YAML mapping: %v\n%s", err, doc)
	}
	_, scenario := top["horizon"]
	_, pools := top["pools"]
	_, image := top["image"]
	_, deploy := top["aws"]
	switch {
	case deploy:
		f, err := cfn.Parse(doc, dir)
		if err != nil {
			t.Fatalf("berth deploy aws template --config: %v\n%s", err, doc)
		}
		if _, err := cfn.Build(f, cfn.Options{}); err != nil {
			t.Errorf("berth deploy aws template --config: %v\n%s", err, doc)
		}
		return "deploy file"
	case scenario:
		if _, err := sim.ParseScenario(doc, dir); err != nil {
			t.Errorf("berth sim --scenario: %v\n%s", err, doc)
		}
		return "scenario"
	case pools:
		cfg, err := config.Parse(doc, dir)
		if err != nil {
			t.Fatalf("berth server --config: %v\n%s", err, doc)
		}
		if !usesAWS(cfg) {
			if _, err := buildFleet(t.Context(), cfg, "berth", time.Now()); err != nil {
				t.Errorf("berth server --config: %v\n%s", err, doc)
			}
		}
		return "berth.yaml"
	case image:
		var spec berth.JobSpec
		if err := strict.Decode(doc, &spec); err != nil {
			t.Fatalf("berth submit -f: %v\n%s", err, doc)
		}
		if err := spec.Validate(); err != nil {
			t.Errorf("the server refuses the job: %v\n%s", err, doc)
		}
		return "job"
	}
	t.Errorf("neither a job (image), a berth.yaml (pools) nor a scenario (horizon): fence it as \"json fragment\" if it is part of one\n%s", doc)
	return ""
}

// usesAWS reports whether cfg has an ec2 or fargate pool: building one
// asks AWS, which a test does not reach.
func usesAWS(cfg config.Config) bool {
	for _, p := range cfg.Pools {
		if p.Provider == berth.ProviderEC2 || p.Provider == berth.ProviderFargate {
			return true
		}
	}
	return false
}

// TestDocumentedConfig runs docs/berth.yaml as berth server --config
// docs/berth.yaml does: it loads and its pools are built, with no cloud
// account.
func TestDocumentedConfig(t *testing.T) {
	c, err := config.Load("../../docs/berth.yaml")
	if err != nil {
		t.Fatalf("Load(docs/berth.yaml) = %v", err)
	}
	if usesAWS(c) {
		t.Errorf("docs/berth.yaml has an ec2 pool: it must run as shipped, with no cloud account")
	} else if _, err := buildFleet(t.Context(), c, "berth", time.Now()); err != nil {
		t.Errorf("buildFleet(docs/berth.yaml) = %v", err)
	}
	var names []string
	for _, p := range c.Pools {
		names = append(names, p.Name)
	}
	if diff := cmp.Diff([]string{"local", "baseline", "spot", "nightly", "fargate"}, names); diff != "" {
		t.Errorf("pools (-want +got):\n%s", diff)
	}
	spot, _ := c.Pool("spot")
	if spot.ScaleInDelay != berth.Duration(2*time.Minute) || spot.StartBudget != berth.Duration(3*time.Minute) || len(spot.InstanceTypes) != 4 {
		t.Errorf("spot pool = %+v", spot)
	}
	nightly, _ := c.Pool("nightly")
	if nightly.Market != berth.Spot || nightly.ScaleInDelay != berth.Duration(berth.DefaultScaleInDelay) {
		t.Errorf("nightly pool defaults = %+v", nightly)
	}
}

// repoPath is a path into the repository in a command of the docs.
var repoPath = regexp.MustCompile(`(?:^|[\s=])((?:docs|scenarios)/[A-Za-z0-9._/-]*[A-Za-z0-9_])`)

// TestDocumentedPaths: the files and folders of the repository that the
// docs' commands name exist.
func TestDocumentedPaths(t *testing.T) {
	for _, page := range docFiles(t) {
		for _, b := range fencedBlocks(t, page) {
			if b.lang != "sh" && b.lang != "console" {
				continue
			}
			for _, m := range repoPath.FindAllStringSubmatch(b.text, -1) {
				if _, err := os.Stat(filepath.Join("../..", m[1])); err != nil {
					t.Errorf("%s:%d names %s: %v", strings.TrimPrefix(page, "../../"), b.line, m[1], err)
				}
			}
		}
	}
}
