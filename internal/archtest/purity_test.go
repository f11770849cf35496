package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPurity: the packages that decide read no clock, set no timer, start
// no goroutine and touch no file, network or log. Now is an argument;
// concurrency and I/O are the loops' (internal/control) and the commands'.
// It reads every non-test Go file of each package, whatever its build
// constraints.
func TestPurity(t *testing.T) {
	for _, rel := range slices.Concat(pure, glue) {
		for _, f := range impurities(t, filepath.Join(moduleDir(t), filepath.FromSlash(rel))) {
			t.Errorf("%s: %s %s: %s, and %s decides purely", f.pos, f.fn, f.what, f.why, short(importPath(rel)))
		}
	}
}

// impurity is one thing done in a pure package that only the loops may do.
type impurity struct {
	pos  string // file:line, relative to the module
	fn   string // the top-level declaration it is in: "Guard", "State.Slack", "var x"
	what string // "calls time.Now"
	why  string
}

// impureFuncs are the functions that read the clock, set timers or touch
// files though their package does not, by import path and name.
var impureFuncs = map[string]map[string]string{
	"time": {
		"Now": "reads the clock", "Since": "reads the clock", "Until": "reads the clock",
		"Sleep": "waits on the clock", "After": "sets a timer", "AfterFunc": "sets a timer",
		"Tick": "sets a ticker", "NewTimer": "sets a timer", "NewTicker": "sets a ticker",
	},
	"path/filepath": {
		"Abs": "reads the working directory", "EvalSymlinks": "reads the file system",
		"Glob": "reads the file system", "Walk": "reads the file system", "WalkDir": "reads the file system",
	},
}

// impurePackage says why using any name of the package at path is not pure,
// or "".
func impurePackage(path string) string {
	switch path {
	case "os", "os/exec", "os/signal", "os/user", "io/ioutil", "syscall", "plugin":
		return "touches files or the operating system"
	case "net", "net/rpc", "net/rpc/jsonrpc", "net/smtp", "database/sql":
		return "touches the network"
	case "log", "log/slog", "log/syslog":
		return "writes a log (log once, at the loop boundary)"
	}
	if path == "net/http" || strings.HasPrefix(path, "net/http/") {
		return "touches the network"
	}
	return ""
}

// impurities returns what the non-test Go files of dir do that a pure
// package may not. A selector on a name that is an import's is taken as the
// package's: a pure package does not shadow os or time.
func impurities(t *testing.T, dir string) []impurity {
	t.Helper()
	var out []impurity
	fset := token.NewFileSet()
	for _, name := range sourceFiles(t, dir) {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		imports := fileImports(f)
		for local, spec := range imports {
			if why := impurePackage(spec.path); why != "" && (local == "_" || local == ".") {
				out = append(out, impurity{posOf(t, fset, spec.pos), "file " + name, fmt.Sprintf("imports %s as %s", spec.path, local), why})
			}
		}
		for _, decl := range f.Decls {
			fn := declName(decl)
			ast.Inspect(decl, func(n ast.Node) bool {
				var what, why string
				switch n := n.(type) {
				case *ast.GoStmt:
					what, why = "has a go statement", "starts a goroutine"
				case *ast.CallExpr:
					// sync.WaitGroup.Go, errgroup.Group.Go: goroutines
					// without a go statement.
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Go" {
						what, why = "calls "+exprString(sel), "starts a goroutine"
					}
				case *ast.SelectorExpr:
					x, ok := n.X.(*ast.Ident)
					if !ok {
						break
					}
					spec, ok := imports[x.Name]
					if !ok {
						break
					}
					if w := impurePackage(spec.path); w != "" {
						what, why = "uses "+spec.path+"."+n.Sel.Name, w
					} else if w := impureFuncs[spec.path][n.Sel.Name]; w != "" {
						what, why = "uses "+spec.path+"."+n.Sel.Name, w
					}
				}
				if what != "" {
					out = append(out, impurity{posOf(t, fset, n.Pos()), fn, what, why})
				}
				return true
			})
		}
	}
	return out
}

// declName names a top-level declaration: "F", "T.M" for a method, or
// "var x" / "type T" / "import" for the others.
func declName(d ast.Decl) string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil || len(d.Recv.List) == 0 {
			return d.Name.Name
		}
		return recvName(d.Recv.List[0].Type) + "." + d.Name.Name
	case *ast.GenDecl:
		var names []string
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				for _, n := range s.Names {
					names = append(names, n.Name)
				}
			case *ast.TypeSpec:
				names = append(names, s.Name.Name)
			}
		}
		return d.Tok.String() + " " + strings.Join(names, ", ")
	}
	return "?"
}

// recvName is the type name of a receiver: T for T, *T, T[K] and *T[K].
func recvName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return "?"
		}
	}
}

// exprString renders a short selector chain such as wg.Go.
func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name
	}
	return "(…)"
}
