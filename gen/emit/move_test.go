package emit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shardgen/shardgen/internal/testmod"
	"golang.org/x/tools/txtar"
)

// TestMoveBetweenPartitions pins "moving a model between databases is a
// hand edit of one directive": testdata/golden/move_default.txtar and
// move_partition.txtar differ in PageView's directive only (default ->
// partition analytics), and gen's TestGolden proves that their want/ files
// are what the generator writes for them. Here the two outputs are compared:
// they must differ exactly in the moved model's file, the Spec and DDL of
// the two databases, and the declarations that list a database's models
// (DB's field comment, New, the two transaction types); everything else,
// other models' files and the shard group's code and DDL, must be
// byte-identical.
func TestMoveBetweenPartitions(t *testing.T) {
	beforeIn, before := readGolden(t, "move_default.txtar")
	afterIn, after := readGolden(t, "move_partition.txtar")

	// The inputs differ in one directive.
	if diff := cmp.Diff(beforeIn, afterIn); diff == "" {
		t.Fatal("the two cases have identical inputs")
	}
	beforeIn["models.go"] = strings.Replace(beforeIn["models.go"], "//shardgen:default\ntype PageView", "//shardgen:partition analytics\ntype PageView", 1)
	if diff := cmp.Diff(beforeIn, afterIn); diff != "" {
		t.Fatalf("the inputs differ in more than PageView's directive (-before +after):\n%s", diff)
	}

	// Same files; only these may and must differ.
	if diff := cmp.Diff(slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after))); diff != "" {
		t.Fatalf("the two cases generate different files (-before +after):\n%s", diff)
	}
	mustDiffer := map[string]bool{"shardgen.go": true, "shardgen_page_views.go": true, "shardgen_schema.sql": true}
	for name := range before {
		diff := cmp.Diff(before[name], after[name])
		switch {
		case mustDiffer[name] && diff == "":
			t.Errorf("%s is the same after the move; it must change", name)
		case !mustDiffer[name] && diff != "":
			t.Errorf("%s changed although it does not involve the moved model (-before +after):\n%s", name, diff)
		}
	}

	// shardgen.go, declaration by declaration.
	declsBefore, declsAfter := decls(t, before["shardgen.go"]), decls(t, after["shardgen.go"])
	changed := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(merge(declsBefore, declsAfter))) {
		if declsBefore[name] != declsAfter[name] {
			changed[name] = true
		}
	}
	wantChanged := map[string]bool{
		"Spec":                  true, // the DDL of page_views moves between databases
		"DB":                    true, // the comment of DB.PageViews names the database
		"New":                   true, // PageViews is prepared on the other database
		"DefaultTx":             true, // loses pageViews
		"DefaultTx.PageViews":   true, // gone
		"DB.InDefaultTxWith":    true, // no longer builds a PageViewTxRepo
		"AnalyticsTx":           true, // gains pageViews
		"AnalyticsTx.PageViews": true, // new
		"DB.InAnalyticsTxWith":  true, // builds a PageViewTxRepo
	}
	if diff := cmp.Diff(wantChanged, changed); diff != "" {
		t.Errorf("declarations of shardgen.go that changed (-want +got):\n%s", diff)
	}

	// The DDL: both databases change, the group does not.
	ddlBefore, ddlAfter := sections(before["shardgen_schema.sql"]), sections(after["shardgen_schema.sql"])
	for _, title := range []string{`database "default"`, `database "analytics"`} {
		if ddlBefore[title] == ddlAfter[title] {
			t.Errorf("the DDL of %s did not change", title)
		}
	}
	if ddlBefore[`group "blog"`] == "" || ddlBefore[`group "blog"`] != ddlAfter[`group "blog"`] {
		t.Errorf("the DDL of group blog changed or is missing")
	}
	if !strings.Contains(ddlBefore[`database "default"`], `"page_views"`) || !strings.Contains(ddlAfter[`database "analytics"`], `"page_views"`) ||
		strings.Contains(ddlAfter[`database "default"`], `"page_views"`) {
		t.Errorf("page_views did not move from default to analytics in the DDL")
	}
}

// readGolden returns the inputs and the want/ files of a golden case.
func readGolden(t *testing.T, name string) (inputs, want map[string]string) {
	t.Helper()
	ar, err := txtar.ParseFile(filepath.Join(testmod.Root(t), "testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	inputs, want = map[string]string{}, map[string]string{}
	for _, f := range ar.Files {
		if rest, ok := strings.CutPrefix(f.Name, "want/"); ok {
			want[rest] = string(f.Data)
		} else {
			inputs[f.Name] = string(f.Data)
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s has no want/ files", name)
	}
	return inputs, want
}

// decls maps each top-level declaration of a Go file ("Spec", "DB",
// "DB.InDefaultTx") to its source text, doc comment included.
func decls(t *testing.T, src string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "shardgen.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	text := func(doc *ast.CommentGroup, node ast.Node) string {
		start := node.Pos()
		if doc != nil {
			start = doc.Pos()
		}
		return src[fset.Position(start).Offset:fset.Position(node.End()).Offset]
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			name := d.Name.Name
			if d.Recv != nil {
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				name = recv.(*ast.Ident).Name + "." + name
			}
			out[name] = text(d.Doc, d)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					out[s.Name.Name] = text(d.Doc, d)
				case *ast.ValueSpec:
					out[s.Names[0].Name] = text(d.Doc, d)
				}
			}
		}
	}
	return out
}

func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// sections splits shardgen_schema.sql at its "-- database ..." and
// "-- group ..." titles, keyed by the title's first two words.
func sections(sql string) map[string]string {
	out := map[string]string{}
	key := ""
	for line := range strings.Lines(sql) {
		if rest, ok := strings.CutPrefix(line, "-- "); ok && (strings.HasPrefix(rest, "database ") || strings.HasPrefix(rest, "group ")) {
			fields := strings.Fields(rest)
			key = fields[0] + " " + strings.TrimSuffix(fields[1], ":")
		}
		if key != "" {
			out[key] += line
		}
	}
	return out
}
