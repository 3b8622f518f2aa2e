package query

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
)

func TestQualify(t *testing.T) {
	tables := map[string]bool{"posts": true, "comments": true}
	for _, tc := range []struct{ in, want string }{
		{"SELECT id FROM posts WHERE id = $1", "SELECT id FROM @schema@.posts WHERE id = $1"},
		{
			"SELECT p.id FROM posts p JOIN comments c ON c.post_id = p.id",
			"SELECT p.id FROM @schema@.posts p JOIN @schema@.comments c ON c.post_id = p.id",
		},
		// A table name in a string literal, a column and an alias are not
		// table references: no string search.
		{
			"SELECT posts.id, 'posts' AS posts FROM posts WHERE title <> 'FROM posts'",
			"SELECT posts.id, 'posts' AS posts FROM @schema@.posts WHERE title <> 'FROM posts'",
		},
		// Common table expressions and system catalogs stay as written.
		{
			"WITH recent AS (SELECT id FROM posts) SELECT count(*) FROM recent, pg_class",
			"WITH recent AS (SELECT id FROM @schema@.posts) SELECT count(*) FROM recent, pg_class",
		},
		{`SELECT 1 FROM "posts"`, `SELECT 1 FROM @schema@."posts"`},
		{
			"SELECT id FROM posts WHERE id IN (SELECT post_id FROM comments WHERE body LIKE $1)",
			"SELECT id FROM @schema@.posts WHERE id IN (SELECT post_id FROM @schema@.comments WHERE body LIKE $1)",
		},
		{"INSERT INTO comments (body) VALUES ($1) RETURNING id", "INSERT INTO @schema@.comments (body) VALUES ($1) RETURNING id"},
		{"UPDATE posts SET title = $2 WHERE id = $1", "UPDATE @schema@.posts SET title = $2 WHERE id = $1"},
		{
			"DELETE FROM comments USING posts WHERE comments.post_id = posts.id",
			"DELETE FROM @schema@.comments USING @schema@.posts WHERE comments.post_id = posts.id",
		},
	} {
		got, err := qualify(tc.in, tables)
		if err != nil {
			t.Errorf("qualify(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("qualify(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	if _, err := qualify("SELECT FROM WHERE", tables); err == nil {
		t.Error("qualify accepted a syntax error")
	}
}

func TestSplit(t *testing.T) {
	src := "-- file comment\n\n" +
		"-- name: GetPost :one\n" +
		"-- Returns one post.\n" +
		"SELECT * FROM posts\n" +
		"WHERE id = $1;\n" +
		"\n" +
		"-- name: TopPosts :many\n" +
		"-- shardgen:fanout\n" +
		"--   Most commented first.\n" +
		"\n" +
		"SELECT id FROM posts;\n"
	var diags diag.List
	got := split("q.sql", []byte(src), &diags)
	if diags.Errors() > 0 {
		t.Fatalf("errors: %v", diags.Items())
	}
	type q struct {
		Name      string
		Cmd       model.QueryCmd
		Line, Col int
		Doc       []string
		FanOut    bool
		Text      string
		TextLine  int
	}
	var out []q
	for _, s := range got {
		out = append(out, q{s.name, s.cmd, s.pos.Line, s.pos.Column, s.doc, s.fanOut, s.text, s.position(0).Line})
	}
	want := []q{
		{"GetPost", model.CmdOne, 3, 1, []string{"Returns one post."}, false, "SELECT * FROM posts\nWHERE id = $1;\n\n", 5},
		{"TopPosts", model.CmdMany, 8, 1, []string{"Most commented first."}, true, "SELECT id FROM posts;\n", 12},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("split (-want +got):\n%s", diff)
	}
}

func TestSplitErrors(t *testing.T) {
	src := "SELECT 1;\n" +
		"-- name: lower :one\nSELECT 1;\n" +
		"-- name: Batch :batchexec\nSELECT 1;\n" +
		"-- name: NoCmd\nSELECT 1;\n" +
		"-- name: Empty :exec\n" +
		"-- name: Fine :exec\n-- shardgen:fanout\n-- shardgen:fanout\n-- shardgen:fanot\n--shardgen:fanout\nSELECT 1;\n"
	var diags diag.List
	split("q.sql", []byte(src), &diags)
	var got []string
	for _, d := range diags.Items() {
		got = append(got, d.String())
	}
	want := []string{
		"q.sql:1:1: shardgen: SQL outside a named query",
		"q.sql:2:1: shardgen: query name \"lower\" must be an exported Go identifier",
		"q.sql:4:1: shardgen: query Batch: unsupported command :batchexec",
		"q.sql:6:1: shardgen: malformed query name line",
		"q.sql:8:1: shardgen: query Empty has no SQL statement",
		"q.sql:11:1: shardgen: query Fine: duplicate -- shardgen:fanout",
		"q.sql:12:1: shardgen: query Fine: unknown directive",
		"q.sql:13:1: shardgen: warning: query Fine: \"--shardgen:fanout\" looks like a shardgen directive",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d diagnostics, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("diagnostic %d:\n got %s\nwant prefix %s", i, got[i], want[i])
		}
	}
}

func TestGoType(t *testing.T) {
	for _, tc := range []struct {
		sql          string
		notNull, arr bool
		want         string
	}{
		{"pg_catalog.int8", true, false, "int64"},
		{"int4", false, false, "*int32"},
		{"text", true, true, "[]string"},
		{"timestamptz", false, false, "*time.Time"},
		{"jsonb", false, false, "[]byte"},
		{"numeric", false, false, "pgtype.Numeric"},
		{"anyarray", true, false, "any"},
		{"mood", true, false, "any"},
	} {
		typ := goType(tc.sql, tc.notNull, tc.arr)
		got := ""
		if typ.Pointer {
			got += "*"
		}
		if typ.Slice {
			got += "[]"
		}
		if typ.Ident.ImportPath != "" {
			got += typ.Ident.ImportPath[strings.LastIndex(typ.Ident.ImportPath, "/")+1:] + "."
		}
		got += typ.Ident.Name
		if got != tc.want {
			t.Errorf("goType(%q, notNull=%v, array=%v) = %s, want %s", tc.sql, tc.notNull, tc.arr, got, tc.want)
		}
	}
}

// TestKeyEqualities pins which comparisons pin the shard key: equality
// with a parameter in the top-level AND chain of a SELECT, UPDATE or
// DELETE, through aliases, casts and either order; not under OR or NOT, in
// a JOIN condition, a subquery or a UNION, nor another column.
func TestKeyEqualities(t *testing.T) {
	g := &model.Group{Name: "blog"}
	post := &model.Model{Table: "posts", Placement: model.InGroup, Group: g}
	post.PK = &model.Field{Column: "id"}
	post.ShardKey = &model.Field{Column: "author_id"}
	post.Fields = []*model.Field{post.PK, post.ShardKey, {Column: "title"}}
	comment := &model.Model{Table: "comments", Placement: model.InGroup, Group: g}
	comment.PK = &model.Field{Column: "id"}
	comment.ShardKey = &model.Field{Column: "post_author_id"}
	comment.Fields = []*model.Field{comment.PK, comment.ShardKey, {Column: "post_id"}}
	tables := map[string]*model.Model{"posts": post, "comments": comment}
	for sql, want := range map[string][]int{
		`SELECT id FROM posts WHERE author_id = $1`:                                                 {1},
		`SELECT id FROM posts WHERE $2 = author_id AND title = $1`:                                  {2},
		`SELECT p.id FROM posts p WHERE p.title = $1 AND (p.author_id = $2::bigint AND p.id > $3)`:  {2},
		`SELECT p.id FROM posts p JOIN comments c ON c.post_id = p.id WHERE c.post_author_id = $1`:  {1},
		`SELECT p.id FROM posts p JOIN comments c ON c.post_author_id = $1 WHERE p.title = $2`:      nil,
		`SELECT id FROM posts WHERE author_id = $1 OR title = $2`:                                   nil,
		`SELECT id FROM posts WHERE NOT (author_id = $1)`:                                           nil,
		`SELECT id FROM posts WHERE id IN (SELECT id FROM posts WHERE author_id = $1)`:              nil,
		`SELECT id FROM posts WHERE author_id = $1 UNION SELECT id FROM posts WHERE author_id = $1`: nil,
		`SELECT id FROM posts WHERE author_id > $1`:                                                 nil,
		`SELECT id FROM posts WHERE id = $1`:                                                        nil,
		`UPDATE posts SET title = $2 WHERE author_id = $1 AND id = $3`:                              {1},
		`DELETE FROM comments c WHERE c.post_author_id = $1`:                                        {1},
		`SELECT p.id FROM posts p, comments c WHERE p.author_id = $1 AND c.post_author_id = $2`:     {1, 2},
		`INSERT INTO posts (author_id, title) VALUES ($1, $2)`:                                      nil,
	} {
		eqs, err := keyEqualities(sql, tables)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var got []int
		for _, e := range eqs {
			got = append(got, e.param)
		}
		if !cmp.Equal(got, want) {
			t.Errorf("%s: key parameters %v, want %v", sql, got, want)
		}
	}
}
