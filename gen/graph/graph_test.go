package graph

import (
	"strings"
	"testing"

	"github.com/shardgen/shardgen/gen/model"
)

// TestMermaidNames covers what the blog does not: an empty database, the
// longest model name deciding a plain-ID reference, and fields that are no
// references (the primary key, the shard key, a non-int64 field).
func TestMermaidNames(t *testing.T) {
	i64 := &model.Type{Kind: model.Int64}
	str := &model.Type{Kind: model.String}
	field := func(name, col string, typ *model.Type) *model.Field {
		return &model.Field{GoName: name, Column: col, Type: typ}
	}
	def := &model.Database{Name: model.DefaultDatabase}
	empty := &model.Database{Name: "archive"}
	post := &model.Model{GoName: "Post", Table: "posts", Placement: model.OnDefault, Database: def}
	post.PK = field("ID", "id", i64)
	post.PK.PK = true
	post.Fields = []*model.Field{post.PK}
	blogPost := &model.Model{GoName: "BlogPost", Table: "blog_posts", Placement: model.OnDefault, Database: def}
	blogPost.PK = field("ID", "id", i64)
	blogPost.PK.PK = true
	blogPost.Fields = []*model.Field{blogPost.PK, field("PostID", "post_id", i64), field("BlogPostIDs", "ids", i64), field("NotePostID", "note", str)}
	like := &model.Model{GoName: "Like", Table: "likes", Placement: model.OnDefault, Database: def}
	like.PK = field("ID", "id", i64)
	like.PK.PK = true
	like.Fields = []*model.Field{like.PK, field("BlogPostID", "blog_post_id", i64)}
	def.Models = []*model.Model{post, blogPost, like}
	p := &model.Package{Databases: []*model.Database{def, empty}, Models: []*model.Model{post, blogPost, like}}

	got := Mermaid(p, nil)
	for _, want := range []string{
		"  subgraph d1[\"database archive (partition)\"]\n    d1_empty[\"no models\"]\n  end\n",
		"  m1 -. \"blog_posts.post_id: plain Post ID, no foreign key\" .-> m0\n",
		"  m2 -. \"likes.blog_post_id: plain BlogPost ID, no foreign key\" .-> m1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if n := strings.Count(got, ".->"); n != 2 {
		t.Errorf("%d dashed edges, want 2:\n%s", n, got)
	}
	if q := quote(`a "b"`); q != `"a #quot;b#quot;"` {
		t.Errorf("quote = %s", q)
	}
}
