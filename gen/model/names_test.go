package model

import "testing"

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"ID":            "id",
		"AuthorID":      "author_id",
		"URL":           "url",
		"HTTPStatus":    "http_status",
		"PageView":      "page_view",
		"Post":          "post",
		"UserIDs":       "user_ids",
		"URLs":          "urls",
		"Address2":      "address2",
		"Address2Line":  "address2_line",
		"CreatedAt":     "created_at",
		"already_snake": "already_snake",
		"Mixed_Case":    "mixed_case",
		"JSONData":      "json_data",
		"ServeHTTP":     "serve_http",
		"IsActive":      "is_active",
		"A":             "a",
		"userName":      "user_name",
		"PostIDsByTag":  "post_ids_by_tag",
	} {
		if got := SnakeCase(in); got != want {
			t.Errorf("SnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for in, want := range map[string]string{
		"post":     "posts",
		"category": "categories",
		"address":  "addresses",
		"box":      "boxes",
		"status":   "statuses",
		"day":      "days",
		"key":      "keys",
		"match":    "matches",
		"wish":     "wishes",
		"quiz":     "quizzes",
		"person":   "people",
		"analysis": "analyses",
		"news":     "news",
		"user":     "users",
		"v2":       "v2s",
		"buzz":     "buzzes",
		"city":     "cities",
	} {
		if got := Plural(in); got != want {
			t.Errorf("Plural(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTableName(t *testing.T) {
	for in, want := range map[string]string{
		"Post":         "posts",
		"PageView":     "page_views",
		"Category":     "categories",
		"Address":      "addresses",
		"UserAddress":  "user_addresses",
		"HTTPStatus":   "http_statuses",
		"BlogCategory": "blog_categories",
		"Person":       "people",
	} {
		if got := TableName(in); got != want {
			t.Errorf("TableName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSchemaName(t *testing.T) {
	for _, tc := range []struct {
		shards, n int
		want      string
	}{
		{16, 7, "blog_0007"},
		{8192, 8191, "blog_8191"},
		{1, 0, "blog_0000"},
		{16384, 12, "blog_00012"},
	} {
		g := &Group{Name: "blog", Shards: tc.shards}
		if got := g.SchemaName(tc.n); got != tc.want {
			t.Errorf("SchemaName(%d) with %d shards = %q, want %q", tc.n, tc.shards, got, tc.want)
		}
	}
	g := &Group{Name: "blog", Shards: 16}
	if got := g.LongestSchemaName(); got != "blog_0015" {
		t.Errorf("LongestSchemaName = %q", got)
	}
}

func TestDerivedNames(t *testing.T) {
	id := &Field{GoName: "ID", Column: "id", PK: true}
	title := &Field{GoName: "Title", Column: "title", Unique: true}
	slug := &Field{GoName: "Slug", Column: "slug", Index: true}
	author := &Field{GoName: "AuthorID", Column: "author_id"}
	post := &Model{GoName: "Post", Table: "posts", PK: id, Fields: []*Field{id, title, author, slug}}
	post.Relations = []*Relation{{From: post, Field: author, To: post}}
	want := []DerivedName{
		{"primary-key constraint", "posts_pkey"},
		{"unique constraint on column title", "posts_title_key"},
		{"foreign key on column author_id", "posts_author_id_fkey"},
		{"index on column author_id", "posts_author_id_idx"},
		{"index on column slug", "posts_slug_idx"},
	}
	got := post.DerivedNames()
	if len(got) != len(want) {
		t.Fatalf("DerivedNames = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("DerivedNames[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
