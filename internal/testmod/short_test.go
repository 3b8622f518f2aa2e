package testmod

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestShortMeansSmall pins the one meaning of -short documented in the
// Makefile: the small version of a test or benchmark, never "skip what
// needs PostgreSQL or the go command". A branch on testing.Short() may
// shrink the work or skip one large case, saying so with a message that
// starts with "-short:"; it may not skip a whole test for being heavy.
func TestShortMeansSmall(t *testing.T) {
	root := Root(t)
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ifs, ok := n.(*ast.IfStmt)
			if !ok || !callsShort(ifs.Cond) {
				return true
			}
			checked++
			ast.Inspect(ifs.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Skip" && sel.Sel.Name != "SkipNow" && sel.Sel.Name != "Skipf") {
					return true
				}
				msg := ""
				if len(call.Args) > 0 {
					if lit, ok := call.Args[0].(*ast.BasicLit); ok {
						msg, _ = strconv.Unquote(lit.Value)
					}
				}
				if !strings.HasPrefix(msg, "-short:") {
					t.Errorf("%s: under -short this skips (%q); -short means the small version (see the Makefile): shrink the test, or skip one large case with a message starting \"-short:\"", fset.Position(call.Pos()), msg)
				}
				return true
			})
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no testing.Short() branch found: the walk looks wrong")
	}
}

func callsShort(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Short" {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "testing" {
				found = true
			}
		}
		return true
	})
	return found
}
