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
// PostAuthorID, and a same-database relation from page views to sessions.
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
	session.Fields = []*model.Field{session.PK, field("UserAgent", "user_agent", typ(model.String, stringIdent))}

	view := &model.Model{GoName: "PageView", Table: "page_views", Placement: model.OnPartition, Database: analytics}
	view.PK = field("ID", "id", typ(model.Int64, int64Ident))
	view.PK.PK = true
	sessionID := field("SessionID", "session_id", &model.Type{Kind: model.Int64, Ident: int64Ident, Nullable: true, Pointer: true})
	view.Fields = []*model.Field{view.PK, sessionID, field("URL", "url", typ(model.String, stringIdent))}
	view.Relations = []*model.Relation{{From: view, Field: sessionID, To: session}}

	// Group "metrics" is keyed by strings, so that a key of one group
	// passed to the other is a type error the misuse test can expect.
	metrics := &model.Group{Name: "metrics", Shards: 8, Key: typ(model.String, stringIdent)}
	p.Groups = append(p.Groups, metrics)
	counter := &model.Model{GoName: "Counter", Table: "counters", Placement: model.InGroup, Group: metrics}
	counter.PK = field("ID", "id", typ(model.Int64, int64Ident))
	counter.PK.PK = true
	counter.ShardKey = field("Name", "name", typ(model.String, stringIdent))
	counter.Fields = []*model.Field{counter.PK, counter.ShardKey, field("Value", "value", typ(model.Int64, int64Ident))}

	p.Models = []*model.Model{user, post, comment, session, view, counter}
	def.Models = []*model.Model{user}
	analytics.Models = []*model.Model{session, view}
	blog.Models = []*model.Model{post, comment}
	metrics.Models = []*model.Model{counter}
	return p
}

// blogSource declares the structs of blogPackage.
const blogSource = `package app

import "time"

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
	ID        int64
	UserAgent string
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
`
