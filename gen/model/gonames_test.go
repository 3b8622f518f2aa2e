package model

import (
	"strings"
	"testing"
)

func TestGoExported(t *testing.T) {
	for in, want := range map[string]string{
		"blog":      "Blog",
		"default":   "Default",
		"user_data": "UserData",
		"api_logs":  "APILogs",
		"http_log":  "HTTPLog",
		"a__b":      "AB",
		"2024_logs": "X2024Logs",
	} {
		if got := GoExported(in); got != want {
			t.Errorf("GoExported(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGoPlural(t *testing.T) {
	for in, want := range map[string]string{
		"Post":     "Posts",
		"Category": "Categories",
		"Address":  "Addresses",
		"PageView": "PageViews",
		"Box":      "Boxes",
		"Day":      "Days",
		"Match":    "Matches",
		"Wish":     "Wishes",
		"Quiz":     "Quizzes",
		"URL":      "URLs",
		"UserID":   "UserIDs",
		"Child":    "Children",
		"Analysis": "Analyses",
		"Person":   "People",
		"Status":   "Statuses",
		"News":     "News",
		"APIKey":   "APIKeys",
		"post":     "posts",
	} {
		if got := GoPlural(in); got != want {
			t.Errorf("GoPlural(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestModelNames(t *testing.T) {
	m := &Model{GoName: "post", Table: "posts"}
	got := []string{m.ExportedName(), m.IDType(), m.RepoName(), m.TxRepoName(), m.DBField(), m.FileName()}
	want := []string{"Post", "PostID", "PostRepo", "PostTxRepo", "Posts", "shardgen_posts.go"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("model names = %v, want %v", got, want)
	}
	g := &Group{Name: "user_data"}
	if got := g.KeyType() + " " + g.TxType() + " " + g.InShardFunc(); got != "UserDataKey UserDataTx InUserDataShard" {
		t.Errorf("group names = %q", got)
	}
	d := &Database{Name: "analytics"}
	if got := d.TxType() + " " + d.InTxFunc(); got != "AnalyticsTx InAnalyticsTx" {
		t.Errorf("database names = %q", got)
	}
}

func TestFileNameAvoidsBuildConstraints(t *testing.T) {
	for table, want := range map[string]string{
		"posts":       "shardgen_posts.go",
		"windows":     "shardgen_windows_model.go",
		"test":        "shardgen_test_model.go",
		"linux_amd64": "shardgen_linux_amd64_model.go",
		"arm":         "shardgen_arm_model.go",
		"armies":      "shardgen_armies.go",
	} {
		m := &Model{GoName: "X", Table: table}
		if got := m.FileName(); got != want {
			t.Errorf("table %q: FileName() = %q, want %q", table, got, want)
		}
	}
}

func TestFileNamesUnique(t *testing.T) {
	a := &Model{GoName: "Event", Table: "events"}
	b := &Model{GoName: "AuditEvent", Table: "events"}
	c := &Model{GoName: "Post", Table: "posts"}
	names := (&Package{Models: []*Model{a, b, c}}).FileNames()
	if names[a] != "shardgen_events_event.go" || names[b] != "shardgen_events_auditevent.go" || names[c] != "shardgen_posts.go" {
		t.Errorf("FileNames = %v", names)
	}
}

func TestRelationAccessorName(t *testing.T) {
	for field, want := range map[string]string{
		"PostID":   "ListByPost",
		"ParentId": "ListByParent",
		"Author":   "ListByAuthor",
		"ID":       "ListByID",
	} {
		r := &Relation{Field: &Field{GoName: field}}
		if got := r.AccessorName(); got != want {
			t.Errorf("AccessorName(%s) = %q, want %q", field, got, want)
		}
	}
}

func TestA(t *testing.T) {
	for in, want := range map[string]string{
		"Post": "a Post", "Order": "an Order", "OrderItem": "an OrderItem", "User": "a User",
		"Unit": "a Unit", "Update": "an Update", "Item": "an Item", "ID": "an ID", "UUID": "a UUID",
		"SQLRow": "an SQLRow", "HTTPLog": "an HTTPLog", "Event": "an Event", "Umbrella": "an Umbrella",
	} {
		if got := A(in); got != want {
			t.Errorf("A(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIdents(t *testing.T) {
	def := &Database{Name: DefaultDatabase}
	p := &Package{
		Databases: []*Database{def},
		Groups:    []*Group{{Name: "blog"}},
		Models:    []*Model{{GoName: "Post", Placement: OnDefault, Database: def}, {GoName: "Comment", Placement: OnDefault, Database: def}},
	}
	def.Models = p.Models
	var got []string
	for _, id := range p.Idents() {
		got = append(got, id.Qualified())
	}
	want := "DB,New,Spec,shardgenJSON,shardgenUUID,DefaultTx,DefaultTx.Tx,DB.InDefaultTx,DB.InDefaultTxWith,BlogKey,BlogTx,DB.InBlogShard,DB.InBlogShardWith," +
		"PostID,PostRepo,PostTxRepo,scanPost,PostRepo.insert,postInsertSQL,PostRepo.insertMany,postInsertManySQL,PostRepo.get,postGetSQL,PostRepo.update,postUpdateSQL," +
		"PostRepo.delete,postDeleteSQL,PostRepo.list,postListSQL,PostRepo.count,postCountSQL,postGetManySQL,PostRepo.Stream,postStreamSQL,DB.Posts,DefaultTx.Posts," +
		"CommentID,CommentRepo,CommentTxRepo,scanComment,CommentRepo.insert,commentInsertSQL,CommentRepo.insertMany,commentInsertManySQL,CommentRepo.get,commentGetSQL," +
		"CommentRepo.update,commentUpdateSQL,CommentRepo.delete,commentDeleteSQL,CommentRepo.list,commentListSQL,CommentRepo.count," +
		"commentCountSQL,commentGetManySQL,CommentRepo.Stream,commentStreamSQL,DB.Comments,DefaultTx.Comments"
	if strings.Join(got, ",") != want {
		t.Errorf("Idents =\n%s\nwant\n%s", strings.Join(got, ","), want)
	}
}

func TestImportNames(t *testing.T) {
	p := &Package{
		Path:     "example.com/app",
		Declared: []Name{{Text: "fmt"}, {Text: "shardgenfmt"}, {Text: "runtime"}},
		Models: []*Model{{GoName: "pgx", Fields: []*Field{
			{Type: &Type{Ident: GoIdent{ImportPath: "github.com/google/uuid", Name: "UUID"}}},
			{Type: &Type{Ident: GoIdent{ImportPath: "gopkg.in/yaml.v3", Name: "Node"}}},
			{Type: &Type{Ident: GoIdent{ImportPath: "example.com/other/v2", Name: "T"}}},
			{Type: &Type{Ident: GoIdent{ImportPath: "example.com/page", Name: "P"}}},
		}}},
	}
	names := p.ImportNames()
	for path, want := range map[string]string{
		"fmt": "shardgenfmt2", "context": "context", RuntimePath: "shardgenruntime",
		"github.com/google/uuid": "uuid", "gopkg.in/yaml.v3": "yaml", "example.com/other/v2": "other",
		"example.com/page": "shardgenpage", // a local of generated bodies
	} {
		if names[path] != want {
			t.Errorf("ImportNames()[%q] = %q, want %q", path, names[path], want)
		}
	}
	// The model "pgx" declares PgxPath's name: its repository types do not,
	// but the struct itself is in Declared when the loader sees it.
	p.Declared = append(p.Declared, Name{Text: "pgx"})
	if got := p.ImportNames()[PgxPath]; got != "shardgenpgx" {
		t.Errorf("pgx imported as %q", got)
	}
}
