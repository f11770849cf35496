package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs: every package of the module has a doc comment on the
// package clause of one of its non-test files. A library's begins with
// "Package <name> "; a command's says what the command does. The folders a
// go command skips (testdata, vendor, those starting with . or _) and other
// modules nested in this one are not looked at.
func TestPackageDocs(t *testing.T) {
	root := moduleDir(t)
	type pkg struct {
		name string
		docs []string // files with a package doc
	}
	pkgs := map[string]*pkg{} // by folder, relative to the module
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || !d.Type().IsRegular() {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		rel := relPath(t, filepath.Dir(path))
		p := pkgs[rel]
		if p == nil {
			p = &pkg{name: f.Name.Name}
			pkgs[rel] = p
		}
		if f.Doc == nil {
			return nil
		}
		p.docs = append(p.docs, name)
		doc := f.Doc.Text()
		if f.Name.Name != "main" && !strings.HasPrefix(doc, "Package "+f.Name.Name+" ") {
			t.Errorf("%s/%s: the package doc begins %q, want \"Package %s ...\"", rel, name, firstLine(doc), f.Name.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 2 {
		t.Fatalf("found %d packages under %s; want the module's", len(pkgs), root)
	}
	for dir, p := range pkgs {
		switch len(p.docs) {
		case 0:
			t.Errorf("%s: package %s has no doc comment: add one to a doc.go or to the package clause of its main file", dir, p.name)
		case 1:
		default:
			t.Errorf("%s: package %s has a doc comment in %d files (%s); go doc joins them: keep one",
				dir, p.name, len(p.docs), strings.Join(p.docs, ", "))
		}
	}
	t.Logf("%d packages", len(pkgs))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
