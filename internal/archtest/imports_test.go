package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports: the packages that decide import only the standard
// library and the root package, directly or not, so that they can do no
// I/O through a package of the module and stay runnable by berth sim. Their
// tests may import more (go-cmp); only the packages themselves are checked.
func TestPureImports(t *testing.T) {
	var roots []string
	for _, rel := range pure {
		roots = append(roots, importPath(rel))
	}
	pkgs := goList(t, append([]string{"-deps"}, roots...)...)
	byPath := make(map[string]listed, len(pkgs))
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	for _, root := range roots {
		if _, ok := byPath[root]; !ok {
			t.Errorf("go list does not know %s: update the list of pure packages", root)
			continue
		}
		for _, chain := range badDeps(root, byPath, func(p listed) bool {
			return p.Standard || p.ImportPath == modulePath
		}) {
			t.Errorf("%s imports %s (%s): a package that decides imports only the standard library and %s",
				short(root), chain[len(chain)-1], strings.Join(shortAll(chain), " → "), modulePath)
		}
	}
}

// TestGlueImports: the glue between the fleet and the deciders imports
// only the standard library, the root package and the packages that
// decide, so that the server and berth sim share it and it does no I/O.
func TestGlueImports(t *testing.T) {
	isPure := map[string]bool{}
	for _, rel := range pure {
		isPure[importPath(rel)] = true
	}
	var roots []string
	for _, rel := range glue {
		roots = append(roots, importPath(rel))
	}
	pkgs := goList(t, append([]string{"-deps"}, roots...)...)
	byPath := make(map[string]listed, len(pkgs))
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	for _, root := range roots {
		if _, ok := byPath[root]; !ok {
			t.Errorf("go list does not know %s: update the list of glue packages", root)
			continue
		}
		for _, chain := range badDeps(root, byPath, func(p listed) bool {
			return p.Standard || isPure[p.ImportPath]
		}) {
			t.Errorf("%s imports %s (%s): the glue imports only the standard library and the packages that decide",
				short(root), chain[len(chain)-1], strings.Join(shortAll(chain), " → "))
		}
	}
}

// badDeps returns, for each package reachable from root that ok refuses,
// the shortest chain of imports from root to it. Only the module's own
// packages are followed: the first refused package on a path is the one to
// fix, and what the standard library imports is its own business.
func badDeps(root string, byPath map[string]listed, ok func(listed) bool) [][]string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	var bad [][]string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		p, known := byPath[cur]
		if !known {
			p = listed{ImportPath: cur} // "C": cgo, neither standard nor the module's
		}
		if cur != root && !ok(p) {
			var chain []string
			for at := cur; at != ""; at = prev[at] {
				chain = append(chain, at)
			}
			slices.Reverse(chain)
			bad = append(bad, chain)
			continue
		}
		if cur != modulePath && !strings.HasPrefix(cur, modulePath+"/") {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = cur
				queue = append(queue, imp)
			}
		}
	}
	return bad
}

// TestServerLinksNoEvaluator: the server's loops (internal/control) link
// the deadline policies but not their offline evaluation, which only
// berth sim deadline runs.
func TestServerLinksNoEvaluator(t *testing.T) {
	control := importPath("internal/control")
	evaluate := importPath("internal/deadline/evaluate")
	pkgs := goList(t, "-deps", control)
	byPath := make(map[string]listed, len(pkgs))
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	for _, chain := range badDeps(control, byPath, func(p listed) bool { return p.ImportPath != evaluate }) {
		t.Errorf("internal/control depends on %s (%s): the server decides with internal/deadline alone",
			short(evaluate), strings.Join(shortAll(chain), " → "))
	}
}

// storeWire are the packages of wire types: the messages of the REST API,
// of its Go client and of the agent protocol. The store keeps berth's
// domain, not the shape of a message on the wire.
var storeWire = []string{"internal/nodeapi", "internal/httpapi", "client"}

// storeWireDebt are the names of nodeapi that internal/store uses today: its
// node rows hold the agent protocol's Facts and NoticeKind (NoticeNode
// compares with SpotInterruption), and JoinNode and HeartbeatNode take the
// agent's Status. They belong in the root package (the domain of a node),
// with nodeapi carrying them on the wire. Shrink this list; never grow it.
var storeWireDebt = []string{"Facts", "NoticeKind", "SpotInterruption", "Status"}

// TestStoreHoldsNoWireTypes: internal/store depends on no wire package,
// directly or not, but for the names of nodeapi in storeWireDebt.
func TestStoreHoldsNoWireTypes(t *testing.T) {
	store := importPath("internal/store")
	nodeapi := importPath("internal/nodeapi")
	wire := map[string]bool{}
	for _, rel := range storeWire {
		wire[importPath(rel)] = true
	}
	pkgs := goList(t, "-deps", store)
	byPath := make(map[string]listed, len(pkgs))
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	// The store's own import of nodeapi is the debt, checked name by name
	// below; any other way to a wire package is not.
	s := byPath[store]
	s.Imports = slices.DeleteFunc(slices.Clone(s.Imports), func(imp string) bool { return imp == nodeapi })
	byPath[store] = s
	for _, chain := range badDeps(store, byPath, func(p listed) bool { return !wire[p.ImportPath] }) {
		t.Errorf("internal/store depends on the wire package %s (%s): the store keeps the domain; convert at the edge",
			short(chain[len(chain)-1]), strings.Join(shortAll(chain), " → "))
	}

	used := map[string]bool{}
	for _, u := range importUses(t, byPath[store].Dir, nodeapi) {
		used[u.name] = true
		if !slices.Contains(storeWireDebt, u.name) {
			t.Errorf("%s: internal/store uses nodeapi.%s: the store keeps the domain, not the agent protocol's messages; "+
				"put the type in the root package", u.pos, u.name)
		}
	}
	for _, name := range storeWireDebt {
		if !used[name] {
			t.Errorf("internal/store no longer uses nodeapi.%s: remove it from storeWireDebt", name)
		}
	}
}

// use is a reference to a name of an imported package.
type use struct {
	pos  string // file:line, relative to the module
	name string
}

// importUses returns every use, in the non-test Go files of dir, of a name
// of the package at path. A blank or dot import counts as a use of "_" or
// ".".
func importUses(t *testing.T, dir, path string) []use {
	t.Helper()
	var uses []use
	fset := token.NewFileSet()
	for _, name := range sourceFiles(t, dir) {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for local, spec := range fileImports(f) {
			if spec.path != path {
				continue
			}
			if local == "_" || local == "." {
				uses = append(uses, use{posOf(t, fset, spec.pos), local})
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == local {
						uses = append(uses, use{posOf(t, fset, sel.Pos()), sel.Sel.Name})
					}
				}
				return true
			})
		}
	}
	return uses
}

// importSpec is one import of a file.
type importSpec struct {
	path string
	pos  token.Pos
}

// fileImports returns f's imports by the name they have in f. Blank and
// dot imports are under "_" and ".", the last of each.
func fileImports(f *ast.File) map[string]importSpec {
	m := make(map[string]importSpec, len(f.Imports))
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		local := defaultName(path)
		if imp.Name != nil {
			local = imp.Name.Name
		}
		m[local] = importSpec{path, imp.Pos()}
	}
	return m
}

// defaultName is the name a package at path has unless renamed: its last
// element, or the one before a major version suffix.
func defaultName(path string) string {
	elems := strings.Split(path, "/")
	name := elems[len(elems)-1]
	if len(elems) > 1 && len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
		name = elems[len(elems)-2]
	}
	return strings.TrimPrefix(name, "go-")
}

// sourceFiles returns the names of the Go files of dir that are not tests,
// whatever their build constraints.
func sourceFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			names = append(names, n)
		}
	}
	return names
}

// posOf returns file:line of pos, the file relative to the module.
func posOf(t *testing.T, fset *token.FileSet, pos token.Pos) string {
	t.Helper()
	p := fset.Position(pos)
	return relPath(t, p.Filename) + ":" + strconv.Itoa(p.Line)
}

// short returns path without the module's prefix; the root package is
// "berth".
func short(path string) string {
	if path == modulePath {
		return "berth"
	}
	return strings.TrimPrefix(path, modulePath+"/")
}

func shortAll(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = short(p)
	}
	return out
}
