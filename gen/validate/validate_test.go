package validate

import (
	"go/token"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
)

// builder assembles a resolved model.Package the way the loader does, so
// that rules can be tested without loading Go code.
type builder struct {
	p    *model.Package
	line int
}

func newBuilder() *builder {
	return &builder{p: &model.Package{Path: "example.com/app", Name: "app", Databases: []*model.Database{{Name: model.DefaultDatabase}}}}
}

func (b *builder) pos() token.Position {
	b.line++
	return token.Position{Filename: "/app/models.go", Line: b.line, Column: 1}
}

func (b *builder) database(name string) *model.Database {
	d := &model.Database{Name: name, Pos: b.pos()}
	b.p.Databases = append(b.p.Databases, d)
	return d
}

func (b *builder) group(name string, shards int) *model.Group {
	g := &model.Group{Name: name, Shards: shards, Pos: b.pos()}
	b.p.Groups = append(b.p.Groups, g)
	return g
}

var int64Type = &model.Type{Kind: model.Int64, Ident: model.GoIdent{Name: "int64"}, Go: "int64"}

func (b *builder) field(m *model.Model, name string, t *model.Type) *model.Field {
	f := &model.Field{GoName: name, Pos: b.pos(), Column: model.SnakeCase(name), Type: t}
	f.ColumnPos = f.Pos
	m.Fields = append(m.Fields, f)
	return f
}

// model adds a model with an int64 ID; db or g places it.
func (b *builder) model(name string, db *model.Database, g *model.Group, key string) *model.Model {
	m := &model.Model{GoName: name, Pos: b.pos(), Table: model.TableName(name)}
	m.TablePos = m.Pos
	m.PK = b.field(m, "ID", int64Type)
	m.PK.PK = true
	switch {
	case g != nil:
		m.Placement, m.Group, m.Where = model.InGroup, g, model.Name{Text: g.Name, Pos: m.Pos}
		m.Key = model.Name{Text: key, Pos: m.Pos}
		m.ShardKey = b.field(m, key, int64Type)
		g.Models = append(g.Models, m)
		if g.Key == nil {
			g.Key = m.ShardKey.Type
		}
	case db.Name == model.DefaultDatabase:
		m.Placement, m.Database = model.OnDefault, db
		db.Models = append(db.Models, m)
	default:
		m.Placement, m.Database, m.Where = model.OnPartition, db, model.Name{Text: db.Name, Pos: m.Pos}
		db.Models = append(db.Models, m)
	}
	b.p.Models = append(b.p.Models, m)
	return m
}

func (b *builder) ref(from, to *model.Model, field, via string) *model.Relation {
	f := b.field(from, field, int64Type)
	r := &model.Relation{From: from, Field: f, To: to, Pos: f.Pos, ToName: model.Name{Text: to.GoName, Pos: f.Pos}}
	if via != "" {
		r.ViaName = model.Name{Text: via, Pos: f.Pos}
		for _, vf := range from.Fields {
			if vf.GoName == via {
				r.Via = vf
			}
		}
	}
	from.Relations = append(from.Relations, r)
	return r
}

func check(b *builder) []string {
	var d diag.List
	Package(b.p, &d)
	var out []string
	for _, it := range d.Items() {
		out = append(out, it.Msg)
	}
	return out
}

// TestColocatedRelationsAccepted: the relations shardgen allows produce no
// diagnostic at all.
func TestColocatedRelationsAccepted(t *testing.T) {
	b := newBuilder()
	def := b.p.Databases[0]
	an := b.database("analytics")
	blog := b.group("blog", 16)
	user := b.model("User", def, nil, "")
	b.ref(b.model("Session", def, nil, ""), user, "UserID", "")
	view := b.model("PageView", an, nil, "")
	b.ref(b.model("Click", an, nil, ""), view, "ViewID", "")
	post := b.model("Post", nil, blog, "AuthorID")
	b.ref(post, post, "ParentID", "AuthorID")
	b.ref(b.model("Comment", nil, blog, "PostAuthorID"), post, "PostID", "PostAuthorID")
	if got := check(b); len(got) != 0 {
		t.Errorf("diagnostics for a valid package:\n%s", strings.Join(got, "\n"))
	}
}

func TestShardCounts(t *testing.T) {
	for shards, want := range map[int]string{
		1: "", 2: "", 16: "", MaxShards: "",
		3:             "not a power of two",
		12:            "use 8 or 16",
		MaxShards * 2: "more than the 8192",
		0:             "", // a syntax error the parser reports
	} {
		b := newBuilder()
		g := b.group("blog", shards)
		b.model("Post", nil, g, "AuthorID")
		got := strings.Join(check(b), "\n")
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%d shards: %q, want %q", shards, got, want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		word string
		cand []string
		want string
	}{
		{"analytcs", []string{"analytics", "billing"}, " (did you mean analytics?)"},
		{"AuthorId", []string{"ID", "AuthorID"}, " (did you mean AuthorID?)"},
		{"zzz", []string{"analytics"}, ""},
		{"ab", []string{"xy"}, ""},
	} {
		if got := didYouMean(tc.word, tc.cand); got != tc.want {
			t.Errorf("didYouMean(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}

// TestUnresolvedPlacementQuiet: a model whose placement is unresolved gets
// the placement error only, not follow-on relation errors.
func TestUnresolvedPlacementQuiet(t *testing.T) {
	b := newBuilder()
	user := b.model("User", b.p.Databases[0], nil, "")
	v := b.model("View", b.p.Databases[0], nil, "")
	v.Placement, v.Database, v.Where = model.OnPartition, nil, model.Name{Text: "analytics", Pos: v.Pos}
	b.p.Databases[0].Models = b.p.Databases[0].Models[:1]
	b.ref(v, user, "UserID", "")
	got := check(b)
	if len(got) != 1 || !strings.Contains(got[0], `database "analytics" is not declared`) {
		t.Errorf("got %q", got)
	}
}
