package load

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/model"
)

// The tables of "Field types" in annotations/doc.go are what users read to
// pick a field's type; these tests hold them to the mapping of this package
// and the column types the DDL is rendered with.

// docTable returns the rows of the table in annotations/doc.go whose header
// line starts with header, each split into its columns (two or more spaces
// apart).
func docTable(t *testing.T, header string) [][]string {
	t.Helper()
	src, err := os.ReadFile("../../annotations/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	sep := regexp.MustCompile(`\s{2,}`)
	var rows [][]string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		cell, ok := strings.CutPrefix(line, "//\t")
		switch {
		case !in && ok && strings.HasPrefix(cell, header):
			in = true
		case in && ok:
			rows = append(rows, sep.Split(cell, -1))
		case in:
			if len(rows) == 0 {
				t.Fatalf("table %q of annotations/doc.go has no rows", header)
			}
			return rows
		}
	}
	t.Fatalf("annotations/doc.go has no table %q", header)
	return nil
}

// docExamples are the concrete types the test stores for the table's rows
// that name a family of types rather than one type.
var docExamples = map[string]string{
	"struct, json option":  "struct{ A int }",
	"*struct, json option": "*struct{ A int }",
	"map, json option":     "map[string]any",
	"slice, json option":   "[]struct{ A int }",
}

const docImports = `package app

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

var (
	_ sql.NullString
	_ json.RawMessage
	_ time.Time
	_ pgtype.Text
)

//shardgen:default
type All struct {
	ID int64
`

// TestDocFieldTypes stores one field of every type the table lists and
// compares the column the generator renders with the table's PostgreSQL
// type and NULL column; it also requires every kind and every well-known
// named type of this package's mapping to have a row.
func TestDocFieldTypes(t *testing.T) {
	rows := docTable(t, "Go type                      PostgreSQL type")
	type field struct {
		row      string // the Go type as the table writes it
		goType   string
		pgType   string
		nullable bool
	}
	var fields []field
	var plain []field // the rows "*T" applies to
	for _, r := range rows {
		if len(r) != 3 {
			t.Fatalf("row %q has %d columns, want 3", strings.Join(r, " | "), len(r))
		}
		null := strings.HasPrefix(r[2], "yes")
		if !null && !strings.HasPrefix(r[2], "no") {
			t.Fatalf("row %q: the NULL column starts with neither yes nor no", r[0])
		}
		f := field{row: r[0], goType: r[0], pgType: r[1], nullable: null}
		if ex, ok := docExamples[r[0]]; ok {
			f.goType = ex
		}
		if strings.HasPrefix(r[0], "*T,") {
			if r[1] != "the type of T" || !null {
				t.Fatalf("row %q: want the type of T, nullable", r[0])
			}
			for _, p := range plain {
				fields = append(fields, field{row: r[0], goType: "*" + p.goType, pgType: p.pgType, nullable: true})
			}
			continue
		}
		if !null {
			plain = append(plain, f)
		}
		fields = append(fields, f)
	}
	var src strings.Builder
	src.WriteString(docImports)
	for i, f := range fields {
		tag := ""
		if strings.Contains(f.row, "json option") {
			tag = ` shardgen:"json"`
		}
		fmt.Fprintf(&src, "\tF%d %s `db:\"c%d\"%s`\n", i, f.goType, i, tag)
	}
	src.WriteString("}\n")
	p, out := load(t, map[string]string{"models.go": src.String()})
	if out != "" {
		t.Fatalf("the table lists a type the loader refuses:\n%s", out)
	}
	tables, err := ddl.Tables(p.Models)
	if err != nil {
		t.Fatal(err)
	}
	col := regexp.MustCompile(`(?m)^\s+"c(\d+)" (.+?)(?: (NOT NULL))?,$`)
	got := map[string][2]string{}
	for _, m := range col.FindAllStringSubmatch(tables, -1) {
		if _, dup := got[m[1]]; !dup { // the CREATE TABLE comes first
			got[m[1]] = [2]string{m[2], m[3]}
		}
	}
	kinds := map[model.Kind]bool{}
	for i, f := range fields {
		c, ok := got[fmt.Sprint(i)]
		if !ok {
			t.Errorf("%s (row %q): no column in the DDL", f.goType, f.row)
			continue
		}
		if c[0] != f.pgType {
			t.Errorf("%s (row %q): the table says %s, the DDL has %s", f.goType, f.row, f.pgType, c[0])
		}
		if null := c[1] == ""; null != f.nullable {
			t.Errorf("%s (row %q): the table says nullable=%v, the DDL has %q", f.goType, f.row, f.nullable, c[1])
		}
		kinds[p.Models[0].Fields[i+1].Type.Kind] = true
	}
	for k := model.Kind(1); !strings.HasPrefix(k.String(), "Kind("); k++ {
		if !kinds[k] {
			t.Errorf("no row of the table stores kind %s", k)
		}
	}
	listed := map[string]bool{}
	for _, f := range fields {
		listed[f.row] = true
	}
	for name := range sqlNull {
		if !listed["sql."+name] {
			t.Errorf("sql.%s is supported but has no row", name)
		}
	}
	for name := range pgtypes {
		if !listed["pgtype."+name] {
			t.Errorf("pgtype.%s is supported but has no row", name)
		}
	}
}

// TestDocRefusedTypes stores every type of the table of refused types and
// requires an error at each field.
func TestDocRefusedTypes(t *testing.T) {
	rows := docTable(t, "Go type                                    why")
	var src strings.Builder
	src.WriteString(docImports)
	header := strings.Count(docImports, "\n")
	lines := map[int]string{}
	n := 0
	for _, r := range rows {
		if len(r) != 2 {
			t.Fatalf("row %q has %d columns, want 2", strings.Join(r, " | "), len(r))
		}
		for _, typ := range strings.Split(r[0], ", ") {
			fmt.Fprintf(&src, "\tF%d %s\n", n, typ)
			lines[header+n+1] = typ
			n++
		}
	}
	src.WriteString("}\n")
	_, out := load(t, map[string]string{"models.go": src.String()})
	for line, typ := range lines {
		if !strings.Contains(out, fmt.Sprintf("models.go:%d:", line)) {
			t.Errorf("%s is in the table of refused types but the loader accepts it", typ)
		}
	}
	if t.Failed() {
		t.Logf("diagnostics:\n%s", out)
	}
}

// TestReadmeFieldTypes holds the README's summary of field types to the
// table of annotations/doc.go (which TestDocFieldTypes holds to the
// generator): every Go type of the summary that is a row of the table must
// have that row's PostgreSQL type and nullability.
func TestReadmeFieldTypes(t *testing.T) {
	doc := map[string][]string{}
	for _, r := range docTable(t, "Go type                      PostgreSQL type") {
		doc[r[0]] = r
		if strings.HasPrefix(r[0], "*T,") {
			doc["*T"] = r
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n| Go type | PostgreSQL type | NULL |\n|---|---|---|\n")
	if !ok {
		t.Fatal("README.md has no table of field types")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	code := regexp.MustCompile("`([^`]+)`")
	spans := func(s string) []string {
		var out []string
		for _, m := range code.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	checked := 0
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("README row %q has %d cells, want 3", line, len(cells))
		}
		goTypes, pgTypes := spans(cells[0]), spans(cells[1])
		null := strings.TrimSpace(cells[2])
		rowChecked := 0
		for i, g := range goTypes {
			r, ok := doc[g]
			if !ok {
				continue
			}
			rowChecked++
			var pg string
			switch {
			case strings.Contains(cells[1], "the type"):
				pg = strings.TrimSpace(strings.ReplaceAll(cells[1], "`", ""))
			case len(pgTypes) == len(goTypes):
				pg = pgTypes[i]
			case len(pgTypes) == 1:
				pg = pgTypes[0]
			default:
				t.Errorf("README row %q: %d Go types but %d PostgreSQL types", line, len(goTypes), len(pgTypes))
			}
			if pg != "the type they hold" && pg != r[1] {
				t.Errorf("README: %s is %s, annotations/doc.go says %s", g, pg, r[1])
			}
			if strings.HasPrefix(null, "yes") != strings.HasPrefix(r[2], "yes") {
				t.Errorf("README: %s NULL %q, annotations/doc.go says %q", g, null, r[2])
			}
		}
		if rowChecked == 0 {
			t.Errorf("README row %q names no type of the table in annotations/doc.go", line)
		}
		checked += rowChecked
	}
	t.Logf("%d types of the README checked", checked)
}
