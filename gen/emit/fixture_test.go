package emit

import (
	"github.com/shardgen/shardgen/gen/model"
)

// This file builds model.Package values by hand, the way the loader would,
// so that the emitter is tested without the front end.

func typ(k model.Kind, ident model.GoIdent) *model.Type {
	return &model.Type{Kind: k, Ident: ident}
}

var (
	int64Ident  = model.GoIdent{Name: "int64"}
	stringIdent = model.GoIdent{Name: "string"}
)

func field(name, column string, t *model.Type) *model.Field {
	return &model.Field{GoName: name, Column: column, Type: t}
}

// blogPackage is the running example: users on the default database,
// page views on partition "analytics", posts and comments sharded in group
// "blog" by the author, comments co-located with their post through
// PostAuthorID, and same-database relations between page views and
// sessions in both directions (a cycle).
func blogPackage() *model.Package {
	def := &model.Database{Name: model.DefaultDatabase}
	analytics := &model.Database{Name: "analytics"}
	blog := &model.Group{Name: "blog", Shards: 16, Key: typ(model.Int64, int64Ident)}
	p := &model.Package{
		Path:      "example.com/app",
		Name:      "app",
		Databases: []*model.Database{def, analytics},
		Groups:    []*model.Group{blog},
	}

	user := &model.Model{GoName: "User", Table: "users", Placement: model.OnDefault, Database: def}
	user.PK = field("ID", "id", typ(model.Int64, int64Ident))
	user.PK.PK = true
	email := field("Email", "email", typ(model.String, stringIdent))
	email.Unique = true
	email.Upsert = true
	user.PK.Upsert = true
	user.Fields = []*model.Field{user.PK, email, field("Name", "name", typ(model.String, stringIdent))}

	post := &model.Model{GoName: "Post", Table: "posts", Placement: model.InGroup, Group: blog}
	post.PK = field("ID", "id", typ(model.Int64, int64Ident))
	post.PK.PK = true
	post.ShardKey = field("AuthorID", "author_id", typ(model.Int64, int64Ident))
	title := field("Title", "title", typ(model.String, stringIdent))
	title.Index = true
	post.Fields = []*model.Field{post.PK, post.ShardKey, title,
		field("Body", "body", typ(model.String, stringIdent)),
		field("CreatedAt", "created_at", typ(model.Time, model.GoIdent{ImportPath: "time", Name: "Time"}))}

	comment := &model.Model{GoName: "Comment", Table: "comments", Placement: model.InGroup, Group: blog}
	comment.PK = field("ID", "id", typ(model.Int64, int64Ident))
	comment.PK.PK = true
	comment.ShardKey = field("PostAuthorID", "post_author_id", typ(model.Int64, int64Ident))
	postID := field("PostID", "post_id", typ(model.Int64, int64Ident))
	comment.Fields = []*model.Field{comment.PK, comment.ShardKey, postID, field("Text", "text", typ(model.String, stringIdent))}
	comment.Relations = []*model.Relation{{From: comment, Field: postID, To: post, Via: comment.ShardKey}}

	session := &model.Model{GoName: "Session", Table: "sessions", Placement: model.OnPartition, Database: analytics}
	session.PK = field("ID", "id", typ(model.Int64, int64Ident))
	session.PK.PK = true
	lastView := field("LastViewID", "last_view_id", &model.Type{Kind: model.Int64, Ident: int64Ident, Nullable: true, Pointer: true})
	session.Fields = []*model.Field{session.PK, field("UserAgent", "user_agent", typ(model.String, stringIdent)), lastView}

	view := &model.Model{GoName: "PageView", Table: "page_views", Placement: model.OnPartition, Database: analytics}
	view.PK = field("ID", "id", typ(model.Int64, int64Ident))
	view.PK.PK = true
	sessionID := field("SessionID", "session_id", &model.Type{Kind: model.Int64, Ident: int64Ident, Nullable: true, Pointer: true})
	view.Fields = []*model.Field{view.PK, sessionID, field("URL", "url", typ(model.String, stringIdent))}
	view.Relations = []*model.Relation{{From: view, Field: sessionID, To: session}}
	// Sessions remember their last page view: a reference cycle.
	session.Relations = []*model.Relation{{From: session, Field: lastView, To: view}}

	// Group "metrics" is keyed by strings, so that a key of one group
	// passed to the other is a type error the misuse test can expect.
	metrics := &model.Group{Name: "metrics", Shards: 8, Key: typ(model.String, stringIdent)}
	p.Groups = append(p.Groups, metrics)
	counter := &model.Model{GoName: "Counter", Table: "counters", Placement: model.InGroup, Group: metrics}
	counter.PK = field("ID", "id", typ(model.Int64, int64Ident))
	counter.PK.PK = true
	counter.ShardKey = field("Name", "name", typ(model.String, stringIdent))
	counter.Fields = []*model.Field{counter.PK, counter.ShardKey, field("Value", "value", typ(model.Int64, int64Ident))}

	// Labels have finders on a sharded model: unique per shard (Slug, and
	// Ext, a nullable UUID) and an index (Color).
	label := &model.Model{GoName: "Label", Table: "labels", Placement: model.InGroup, Group: metrics}
	label.PK = field("ID", "id", typ(model.Int64, int64Ident))
	label.PK.PK = true
	label.ShardKey = field("Owner", "owner", typ(model.String, stringIdent))
	slug := field("Slug", "slug", typ(model.String, stringIdent))
	slug.Unique = true
	color := field("Color", "color", typ(model.String, stringIdent))
	color.Index = true
	ext := field("Ext", "ext", &model.Type{Kind: model.UUID, Ident: model.GoIdent{ImportPath: "example.com/app", Name: "UUID"}, Nullable: true, Pointer: true})
	ext.Unique = true
	// Labels also upsert by ID and by Slug, and have a row version.
	slug.Upsert = true
	label.PK.Upsert = true
	rev := field("Rev", "rev", typ(model.Int64, int64Ident))
	rev.Version = true
	label.Fields = []*model.Field{label.PK, label.ShardKey, slug, color, ext, rev}

	sample := samplesModel(def)

	p.Models = []*model.Model{user, post, comment, session, view, counter, label, sample}
	def.Models = []*model.Model{user, sample}
	analytics.Models = []*model.Model{session, view}
	blog.Models = []*model.Model{post, comment}
	metrics.Models = []*model.Model{counter, label}
	return p
}

// samplesModel has a field of every supported kind, nullable or not.
func samplesModel(def *model.Database) *model.Model {
	m := &model.Model{GoName: "Sample", Table: "samples", Placement: model.OnDefault, Database: def}
	m.PK = field("ID", "id", typ(model.Int64, int64Ident))
	m.PK.PK = true
	pre := func(name string) model.GoIdent { return model.GoIdent{Name: name} }
	id := func(path, name string) model.GoIdent { return model.GoIdent{ImportPath: path, Name: name} }
	null := func(k model.Kind, ident model.GoIdent) *model.Type {
		return &model.Type{Kind: k, Ident: ident, Nullable: true}
	}
	ptr := func(k model.Kind, ident model.GoIdent) *model.Type {
		return &model.Type{Kind: k, Ident: ident, Nullable: true, Pointer: true}
	}
	const pg = "github.com/jackc/pgx/v5/pgtype"
	m.Fields = []*model.Field{m.PK,
		field("I16", "i16", typ(model.Int16, pre("int16"))),
		field("I32", "i32", typ(model.Int32, pre("int32"))),
		field("I64", "i64", typ(model.Int64, pre("int64"))),
		field("U32", "u32", typ(model.Uint32, pre("uint32"))),
		field("F32", "f32", typ(model.Float32, pre("float32"))),
		field("F64", "f64", typ(model.Float64, pre("float64"))),
		field("B", "b", typ(model.Bool, pre("bool"))),
		field("S", "s", typ(model.String, pre("string"))),
		field("Raw", "raw", &model.Type{Kind: model.Bytes, Ident: pre("byte"), Slice: true}),
		field("T", "t", typ(model.Time, id("time", "Time"))),
		field("U", "u", typ(model.UUID, pre("[16]byte"))),
		field("NamedU", "named_u", typ(model.UUID, id("example.com/app", "UUID"))),
		field("PU", "pu", ptr(model.UUID, id("example.com/app", "UUID"))),
		field("Tags", "tags", &model.Type{Kind: model.StringArray, Ident: pre("string"), Slice: true}),
		field("Nums", "nums", &model.Type{Kind: model.Int64Array, Ident: pre("int64"), Slice: true}),
		field("RawJSON", "raw_json", typ(model.JSONRaw, id("encoding/json", "RawMessage"))),
		field("Prefs", "prefs", typ(model.JSON, id("example.com/app", "Prefs"))),
		field("PPrefs", "p_prefs", ptr(model.JSON, id("example.com/app", "Prefs"))),
		field("Meta", "meta", typ(model.JSON, pre("map[string]any"))),
		field("NS", "ns", null(model.String, id("database/sql", "NullString"))),
		field("PS", "ps", ptr(model.String, pre("string"))),
		field("PT", "pt", ptr(model.Time, id("time", "Time"))),
		field("D", "d", null(model.Date, id(pg, "Date"))),
		field("N", "n", null(model.Numeric, id(pg, "Numeric"))),
		field("PgU", "pg_u", null(model.UUID, id(pg, "UUID"))),
	}
	return m
}

// blogSource declares the structs of blogPackage.
const blogSource = `package app

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

type UUID [16]byte

type Prefs struct {
	Theme string
	Size  int
}

type Sample struct {
	ID      int64
	I16     int16
	I32     int32
	I64     int64
	U32     uint32
	F32     float32
	F64     float64
	B       bool
	S       string
	Raw     []byte
	T       time.Time
	U       [16]byte
	NamedU  UUID
	PU      *UUID
	Tags    []string
	Nums    []int64
	RawJSON json.RawMessage
	Prefs   Prefs
	PPrefs  *Prefs
	Meta    map[string]any
	NS      sql.NullString
	PS      *string
	PT      *time.Time
	D       pgtype.Date
	N       pgtype.Numeric
	PgU     pgtype.UUID
}

type User struct {
	ID    int64
	Email string
	Name  string
}

type Post struct {
	ID        int64
	AuthorID  int64
	Title     string
	Body      string
	CreatedAt time.Time
}

type Comment struct {
	ID           int64
	PostAuthorID int64
	PostID       int64
	Text         string
}

type Session struct {
	ID         int64
	UserAgent  string
	LastViewID *int64
}

type PageView struct {
	ID        int64
	SessionID *int64
	URL       string
}

type Counter struct {
	ID    int64
	Name  string
	Value int64
}

type Label struct {
	ID    int64
	Owner string
	Slug  string
	Color string
	Ext   *UUID
	Rev   int64
}
`
