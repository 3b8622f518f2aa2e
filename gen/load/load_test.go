package load

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/internal/testmod"
)

// module writes files into a temporary module (internal/testmod) and
// returns its directory and the go command's environment.
func module(t *testing.T, files map[string]string) (string, []string) {
	t.Helper()
	data := make(map[string][]byte, len(files))
	for name, text := range files {
		data[name] = []byte(text)
	}
	return testmod.New(t, data), testmod.Env()
}

func load(t *testing.T, files map[string]string) (*model.Package, string) {
	t.Helper()
	dir, env := module(t, files)
	var diags diag.List
	pkgs := Packages(Config{Dir: dir, Env: env}, nil, &diags)
	var b strings.Builder
	diags.Print(&b, dir)
	if len(pkgs) != 1 {
		t.Fatalf("loaded %d packages, want 1; diagnostics:\n%s", len(pkgs), b.String())
	}
	return pkgs[0], b.String()
}

// TestFieldTypes pins the mapping of every supported Go type.
func TestFieldTypes(t *testing.T) {
	p, out := load(t, map[string]string{"models.go": `package app

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

type UUID [16]byte
type Status string
type Tags []string
type Prefs struct{ Dark bool }

//shardgen:default
type All struct {
	ID        int64
	I16       int16
	I32       int32
	U32       uint32
	F32       float32
	F64       float64
	B         bool
	S         string
	Raw       []byte
	At        time.Time
	PI64      *int64
	PS        *string
	PAt       *time.Time
	NS        sql.NullString
	NI16      sql.NullInt16
	NI32      sql.NullInt32
	NI64      sql.NullInt64
	NF        sql.NullFloat64
	NB        sql.NullBool
	NT        sql.NullTime
	NByte     sql.NullByte
	PText     pgtype.Text
	PInt2     pgtype.Int2
	PInt4     pgtype.Int4
	PInt8     pgtype.Int8
	PF4       pgtype.Float4
	PF8       pgtype.Float8
	PBool     pgtype.Bool
	PTs       pgtype.Timestamptz
	PDate     pgtype.Date
	PUUID     pgtype.UUID
	PNum      pgtype.Numeric
	Arr       [16]byte
	Named     UUID
	PNamed    *UUID
	Strs      []string
	Ints      []int64
	NamedStrs Tags
	St        Status
	JR        json.RawMessage
	JS        Prefs             ` + "`shardgen:\"json\"`" + `
	JP        *Prefs            ` + "`shardgen:\"json\"`" + `
	JM        map[string]any    ` + "`shardgen:\"json\"`" + `
	JL        []Prefs           ` + "`shardgen:\"json\"`" + `
	Skipped   chan int          ` + "`db:\"-\"`" + `
	hidden    chan int
}
`})
	if out != "" {
		t.Fatalf("unexpected diagnostics:\n%s", out)
	}
	type row struct {
		Field    string
		Kind     model.Kind
		Nullable bool
		Pointer  bool
		Slice    bool
		Ident    model.GoIdent
		Go       string
	}
	id := func(path, name string) model.GoIdent { return model.GoIdent{ImportPath: path, Name: name} }
	pre := func(name string) model.GoIdent { return model.GoIdent{Name: name} }
	const pg = "github.com/jackc/pgx/v5/pgtype"
	want := []row{
		{"ID", model.Int64, false, false, false, pre("int64"), "int64"},
		{"I16", model.Int16, false, false, false, pre("int16"), "int16"},
		{"I32", model.Int32, false, false, false, pre("int32"), "int32"},
		{"U32", model.Uint32, false, false, false, pre("uint32"), "uint32"},
		{"F32", model.Float32, false, false, false, pre("float32"), "float32"},
		{"F64", model.Float64, false, false, false, pre("float64"), "float64"},
		{"B", model.Bool, false, false, false, pre("bool"), "bool"},
		{"S", model.String, false, false, false, pre("string"), "string"},
		{"Raw", model.Bytes, false, false, true, pre("byte"), "[]byte"},
		{"At", model.Time, false, false, false, id("time", "Time"), "time.Time"},
		{"PI64", model.Int64, true, true, false, pre("int64"), "*int64"},
		{"PS", model.String, true, true, false, pre("string"), "*string"},
		{"PAt", model.Time, true, true, false, id("time", "Time"), "*time.Time"},
		{"NS", model.String, true, false, false, id("database/sql", "NullString"), "sql.NullString"},
		{"NI16", model.Int16, true, false, false, id("database/sql", "NullInt16"), "sql.NullInt16"},
		{"NI32", model.Int32, true, false, false, id("database/sql", "NullInt32"), "sql.NullInt32"},
		{"NI64", model.Int64, true, false, false, id("database/sql", "NullInt64"), "sql.NullInt64"},
		{"NF", model.Float64, true, false, false, id("database/sql", "NullFloat64"), "sql.NullFloat64"},
		{"NB", model.Bool, true, false, false, id("database/sql", "NullBool"), "sql.NullBool"},
		{"NT", model.Time, true, false, false, id("database/sql", "NullTime"), "sql.NullTime"},
		{"NByte", model.Int16, true, false, false, id("database/sql", "NullByte"), "sql.NullByte"},
		{"PText", model.String, true, false, false, id(pg, "Text"), "pgtype.Text"},
		{"PInt2", model.Int16, true, false, false, id(pg, "Int2"), "pgtype.Int2"},
		{"PInt4", model.Int32, true, false, false, id(pg, "Int4"), "pgtype.Int4"},
		{"PInt8", model.Int64, true, false, false, id(pg, "Int8"), "pgtype.Int8"},
		{"PF4", model.Float32, true, false, false, id(pg, "Float4"), "pgtype.Float4"},
		{"PF8", model.Float64, true, false, false, id(pg, "Float8"), "pgtype.Float8"},
		{"PBool", model.Bool, true, false, false, id(pg, "Bool"), "pgtype.Bool"},
		{"PTs", model.Time, true, false, false, id(pg, "Timestamptz"), "pgtype.Timestamptz"},
		{"PDate", model.Date, true, false, false, id(pg, "Date"), "pgtype.Date"},
		{"PUUID", model.UUID, true, false, false, id(pg, "UUID"), "pgtype.UUID"},
		{"PNum", model.Numeric, true, false, false, id(pg, "Numeric"), "pgtype.Numeric"},
		{"Arr", model.UUID, false, false, false, pre("[16]byte"), "[16]byte"},
		{"Named", model.UUID, false, false, false, id("example.com/app", "UUID"), "UUID"},
		{"PNamed", model.UUID, true, true, false, id("example.com/app", "UUID"), "*UUID"},
		{"Strs", model.StringArray, false, false, true, pre("string"), "[]string"},
		{"Ints", model.Int64Array, false, false, true, pre("int64"), "[]int64"},
		{"NamedStrs", model.StringArray, false, false, false, id("example.com/app", "Tags"), "Tags"},
		{"St", model.String, false, false, false, id("example.com/app", "Status"), "Status"},
		{"JR", model.JSONRaw, false, false, false, id("encoding/json", "RawMessage"), "json.RawMessage"},
		{"JS", model.JSON, false, false, false, id("example.com/app", "Prefs"), "Prefs"},
		{"JP", model.JSON, true, true, false, id("example.com/app", "Prefs"), "*Prefs"},
		{"JM", model.JSON, false, false, false, pre("map[string]any"), "map[string]any"},
		{"JL", model.JSON, false, false, false, pre("[]Prefs"), "[]Prefs"},
	}
	m := p.Models[0]
	var got []row
	for _, f := range m.Fields {
		ty := f.Type
		got = append(got, row{f.GoName, ty.Kind, ty.Nullable, ty.Pointer, ty.Slice, ty.Ident, ty.Go})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("field types (-want +got):\n%s", diff)
	}
}

// TestModel pins what the loader resolves: placements, tables, columns,
// keys, primary keys, relations and their positions.
func TestModel(t *testing.T) {
	p, out := load(t, map[string]string{
		"doc.go": `// Package app is annotated.
//
//shardgen:database analytics
//shardgen:group blog shards=16
package app
`,
		"models.go": `package app

type (
	// User is grouped.
	//
	//shardgen:default table=accounts
	User struct {
		ID    int64
		Email string ` + "`db:\"mail\" shardgen:\"unique\"`" + `
	}
)

//shardgen:shard blog key=AuthorID
type Post struct {
	ID       int64
	AuthorID int64 ` + "`shardgen:\"index\"`" + `
}

//shardgen:shard blog key=PostAuthorID
type Comment struct {
	Key          int64 ` + "`shardgen:\"pk\"`" + `
	PostAuthorID int64
	PostID       int64 ` + "`shardgen:\"ref=Post,via=PostAuthorID\"`" + `
}

//shardgen:partition analytics
type PageView struct {
	ID int64
}
`})
	if out != "" {
		t.Fatalf("unexpected diagnostics:\n%s", out)
	}
	if p.Path != "example.com/app" || p.Name != "app" || filepath.Base(p.Dir) != filepath.Base(filepath.Dir(p.Models[0].Pos.Filename)) {
		t.Errorf("package = %q %q %q", p.Path, p.Name, p.Dir)
	}
	var dbs []string
	for _, d := range p.Databases {
		var ms []string
		for _, m := range d.Models {
			ms = append(ms, m.GoName)
		}
		dbs = append(dbs, d.Name+":"+strings.Join(ms, ","))
	}
	if diff := cmp.Diff([]string{"default:User", "analytics:PageView"}, dbs); diff != "" {
		t.Errorf("databases (-want +got):\n%s", diff)
	}
	if len(p.Groups) != 1 || p.Groups[0].Name != "blog" || p.Groups[0].Shards != 16 || len(p.Groups[0].Models) != 2 ||
		p.Groups[0].Key == nil || p.Groups[0].Key.Kind != model.Int64 {
		t.Errorf("groups = %+v", p.Groups)
	}
	if p.Groups[0].ShardsPos.Line != 4 || p.Groups[0].ShardsPos.Column != 30 {
		t.Errorf("ShardsPos = %v", p.Groups[0].ShardsPos)
	}
	user, post, comment := p.Models[0], p.Models[1], p.Models[2]
	if user.Table != "accounts" || user.TablePos.Line != 6 || user.TablePos.Column != 27 {
		t.Errorf("user table %q at %v", user.Table, user.TablePos)
	}
	if user.Pos.Line != 7 || user.Pos.Column != 2 || user.Directive.Line != 6 || user.Directive.Column != 2 {
		t.Errorf("user at %v, directive at %v", user.Pos, user.Directive)
	}
	email := user.Fields[1]
	if email.Column != "mail" || !email.Unique || email.ColumnPos.Line != 9 || email.ColumnPos.Column != 21 || email.Pos.Column != 3 {
		t.Errorf("email = %+v", email)
	}
	if post.Table != "posts" || post.ShardKey != post.Fields[1] || !post.Fields[1].Index || post.PK != post.Fields[0] || !post.PK.PK {
		t.Errorf("post = %+v", post)
	}
	if post.Key.Text != "AuthorID" || post.Key.Pos.Line != 13 || post.Key.Pos.Column != 27 || post.Where.Text != "blog" || post.Where.Pos.Column != 18 {
		t.Errorf("post key %+v where %+v", post.Key, post.Where)
	}
	if comment.PK == nil || comment.PK.GoName != "Key" || comment.Table != "comments" {
		t.Errorf("comment pk %+v", comment.PK)
	}
	if len(comment.Relations) != 1 {
		t.Fatalf("relations = %+v", comment.Relations)
	}
	r := comment.Relations[0]
	if r.From != comment || r.To != post || r.Via != comment.Fields[1] || r.Field != comment.Fields[2] ||
		r.Pos.Line != 23 || r.Pos.Column != 36 || r.ViaName.Pos.Column != 45 {
		t.Errorf("relation = %+v", r)
	}
}

// TestNotAnnotated: a package without directives yields no model.
func TestNotAnnotated(t *testing.T) {
	dir, env := module(t, map[string]string{"a.go": "package app\n\n// Plain is not a model.\ntype Plain struct{ ID int64 }\n"})
	var diags diag.List
	if pkgs := Packages(Config{Dir: dir, Env: env}, []string{"."}, &diags); len(pkgs) != 0 {
		t.Errorf("got %d packages", len(pkgs))
	}
	if len(diags.Items()) != 0 {
		t.Errorf("diagnostics: %v", diags.Items())
	}
}

// TestStaleGeneratedFilesIgnored: a generated file that no longer compiles
// never stops the loader, thanks to its build constraint.
func TestStaleGeneratedFilesIgnored(t *testing.T) {
	_, out := load(t, map[string]string{
		"models.go":   "package app\n\n//shardgen:default\ntype User struct{ ID int64 }\n",
		"shardgen.go": "// Code generated by shardgen. DO NOT EDIT.\n\n//go:build !shardgen\n\npackage app\n\nthis does not parse\n",
	})
	if out != "" {
		t.Errorf("unexpected diagnostics:\n%s", out)
	}
}

func TestParsePos(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b.go:3:4": "/a/b.go:3:4",
		"/a/b.go:3":   "/a/b.go:3",
		"-":           "-",
	} {
		if got := parsePos(in).String(); got != want {
			t.Errorf("parsePos(%q) = %q, want %q", in, got, want)
		}
	}
}
