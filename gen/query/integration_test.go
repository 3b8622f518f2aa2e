package query_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/shardgen/shardgen/gen"
	"github.com/shardgen/shardgen/internal/testmod"
)

// TestQueriesAgainstPostgreSQL generates a package with custom queries on a
// shard group, the default database and a partition, compiles it in a temp
// module like a user's, and runs a test program there against two
// throwaway PostgreSQL servers (runtime/pgtest): the default database and
// shards 0-7 of group blog on one, the analytics database and shards 8-15
// on the other. It checks that each method returns the rows of the shard
// its key or ID locates, joins inside a shard, respects transactions, and
// that the fan-out form merges every shard and reports a failing one.
func TestQueriesAgainstPostgreSQL(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	files := map[string][]byte{
		"doc.go":                      []byte(appDoc),
		"models.go":                   []byte(appModels),
		"queries/blog/posts.sql":      []byte(blogQueries),
		"queries/default/users.sql":   []byte(defaultQueries),
		"queries/analytics/views.sql": []byte(analyticsQueries),
	}
	dir := testmod.New(t, files)
	env := testmod.Env()
	res := gen.Generate(gen.Options{Dir: dir, Patterns: []string{"."}, Env: env})
	var diags bytes.Buffer
	res.Diags.Print(&diags, dir)
	if res.Diags.Errors() > 0 {
		t.Fatalf("generate:\n%s", diags.String())
	}
	if err := gen.Write(res.Files); err != nil {
		t.Fatal(err)
	}
	// The routing argument of a query that pins the shard key cannot
	// disagree with the key it filters by: the call that routed by one key
	// and filtered by another no longer compiles, and typed IDs are not
	// plain integers.
	misuse := filepath.Join(dir, "misuse.go")
	if err := os.WriteFile(misuse, []byte(misuseSource), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "./...")
	build.Dir = dir
	build.Env = env
	out, err := build.CombinedOutput()
	if err == nil {
		t.Fatalf("misuse of routed queries compiled:\n%s", out)
	}
	for _, want := range []string{
		"misuse.go:8:50: undefined: TopPostsParams",
		"misuse.go:9:50: cannot use n (variable of type int64) as PostID value in argument to db.BlogQueries.PostTitle",
		"misuse.go:10:38: cannot use PostID(n) (value of int64 type PostID) as BlogKey value in argument to db.BlogQueries.TopPosts",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("go build output lacks %q:\n%s", want, out)
		}
	}
	if err := os.Remove(misuse); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app_test.go"), []byte(appTest), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "test", "-count=1", "-v", "./...")
	cmd.Dir = dir
	cmd.Env = env
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("generated queries against PostgreSQL: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

const appDoc = `//shardgen:database analytics
//shardgen:group blog shards=16
package app
`

const appModels = `package app

import "time"

// User is an account.
//
//shardgen:default
type User struct {
	ID    int64
	Email string ` + "`shardgen:\"unique\"`" + `
	Name  string
}

// Post is sharded by its author.
//
//shardgen:shard blog key=AuthorID
type Post struct {
	ID       int64
	AuthorID int64
	Title    string
}

// Comment lives on its post's shard.
//
//shardgen:shard blog key=PostAuthorID
type Comment struct {
	ID           int64
	PostAuthorID int64
	PostID       int64 ` + "`shardgen:\"ref=Post,via=PostAuthorID\"`" + `
	Body         string
}

// PageView is on the analytics partition.
//
//shardgen:partition analytics
type PageView struct {
	ID     int64
	PostID int64
	At     time.Time
}
`

const blogQueries = `-- name: PostsByTitle :many
SELECT * FROM posts WHERE title = $1 ORDER BY id;

-- name: TopPosts :many
SELECT p.id, p.title, count(c.id) AS comments
FROM posts p LEFT JOIN comments c ON c.post_id = p.id
WHERE p.author_id = sqlc.arg(author_id)
GROUP BY p.id
ORDER BY comments DESC, p.id
LIMIT sqlc.arg(lim);

-- name: PostTitle :one
SELECT title FROM posts WHERE id = $1;

-- name: DeleteComments :execrows
DELETE FROM comments WHERE post_id = $1;

-- name: AllTitles :many
-- shardgen:fanout
SELECT id, title FROM posts ORDER BY id;
`

const defaultQueries = `-- name: UserByEmail :one
SELECT * FROM users WHERE email = $1;

-- name: RenameUser :exec
UPDATE users SET name = $2 WHERE id = $1;
`

const analyticsQueries = `-- name: ViewCount :one
SELECT count(*) FROM page_views WHERE post_id = $1;
`

// misuseSource calls TopPosts, which pins the shard key with author_id, the
// old way: a shard argument and a Params struct whose AuthorID could name
// another key. Line numbers matter to the test.
const misuseSource = `package app

import "context"

func misuse(ctx context.Context, db *DB, n int64) {
	// Routed by one key, filtered by another: the parameter struct is gone
	// and the key is the one routing argument.
	_, _ = db.BlogQueries.TopPosts(ctx, BlogKey(1), TopPostsParams{AuthorID: 2, Lim: 3})
	_, _ = db.BlogQueries.PostTitle(ctx, PostID(n), n)
	_, _ = db.BlogQueries.TopPosts(ctx, PostID(n), 3)
}
`

const appTest = `package app

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

func TestCustomQueries(t *testing.T) {
	ctx := context.Background()
	_, urls := pgtest.NewDatabase(t, 2, "app")
	cfg := runtime.Config{
		Databases: map[string]string{"default": urls[0], "analytics": urls[1]},
		Groups: map[string][]runtime.ServerConfig{
			"blog": {{Name: "a", URL: urls[0], Shards: "0-7"}, {Name: "b", URL: urls[1], Shards: "8-15"}},
		},
	}
	r, err := runtime.Open(ctx, cfg, Spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := runtime.Migrate(ctx, r, Spec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	db, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	blog, err := r.Group("blog")
	if err != nil {
		t.Fatal(err)
	}
	// Author a's shard is on server a, author b's on server b.
	var a, b int64
	for k := int64(1); a == 0 || b == 0; k++ {
		if s := blog.ShardOfInt64(k); s < 8 && a == 0 {
			a = k
		} else if s >= 8 && b == 0 {
			b = k
		}
	}
	post := func(author int64, title string) PostID {
		id, err := db.Posts.Insert(ctx, &Post{AuthorID: author, Title: title})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	pa1, pa2, pb1 := post(a, "hello"), post(a, "other"), post(b, "hello")
	for _, p := range []PostID{pa1, pa1, pa2} {
		if _, err := db.Comments.Insert(ctx, &Comment{PostAuthorID: a, PostID: int64(p), Body: "hi"}); err != nil {
			t.Fatal(err)
		}
	}

	// Routed by a key: only the rows of that key's shard.
	for _, tc := range []struct {
		key  BlogKey
		want PostID
	}{{BlogKey(a), pa1}, {BlogKey(b), pb1}} {
		got, err := db.BlogQueries.PostsByTitle(ctx, tc.key, "hello")
		if err != nil || len(got) != 1 || got[0].ID != int64(tc.want) || got[0].AuthorID != int64(tc.key) {
			t.Errorf("PostsByTitle(key %d) = %+v, %v; want post %d only", tc.key, got, err, tc.want)
		}
	}
	// Routed by an ID: the shard it carries.
	if title, err := db.BlogQueries.PostTitle(ctx, pa2, pa2); err != nil || title != "other" {
		t.Errorf("PostTitle(pa2) = %q, %v", title, err)
	}
	// Post a is not on b's shard.
	if _, err := db.BlogQueries.PostTitle(ctx, pb1, pa1); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("PostTitle on the wrong shard: %v, want ErrNotFound", err)
	}
	// A join inside the shard.
	// TopPosts compares the shard key with author_id: that is its one
	// routing argument, and its IDs are PostIDs.
	top, err := db.BlogQueries.TopPosts(ctx, BlogKey(a), 10)
	want := []TopPostsRow{{ID: pa1, Title: "hello", Comments: 2}, {ID: pa2, Title: "other", Comments: 1}}
	if err != nil || !slices.Equal(top, want) {
		t.Errorf("TopPosts = %+v, %v; want %+v", top, err, want)
	}

	// In a transaction on a's shard: rolled back, and a key of another
	// shard is refused.
	errRollback := errors.New("rollback")
	err = db.InBlogShard(ctx, BlogKey(a), func(tx *BlogTx) error {
		q := tx.Queries()
		if n, err := q.DeleteComments(ctx, pa1, int64(pa1)); err != nil || n != 2 {
			t.Errorf("tx DeleteComments = %d, %v; want 2", n, err)
		}
		if _, err := q.PostTitle(ctx, BlogKey(b), pb1); !errors.Is(err, runtime.ErrWrongShard) {
			t.Errorf("tx PostTitle with another shard's key: %v, want ErrWrongShard", err)
		}
		if _, err := q.TopPosts(ctx, BlogKey(b), 1); !errors.Is(err, runtime.ErrWrongShard) {
			t.Errorf("tx TopPosts routed by another shard's key: %v, want ErrWrongShard", err)
		}
		if top, err := q.TopPosts(ctx, BlogKey(a), 1); err != nil || len(top) != 1 || top[0].ID != pa2 { // pa1 lost its comments above
			t.Errorf("tx TopPosts = %+v, %v", top, err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InBlogShard: %v", err)
	}
	if n, err := db.BlogQueries.DeleteComments(ctx, pa2, int64(pa2)); err != nil || n != 1 {
		t.Errorf("DeleteComments(pa2) = %d, %v; want 1", n, err)
	}
	if top, err := db.BlogQueries.TopPosts(ctx, BlogKey(a), 1); err != nil || len(top) != 1 || top[0].Comments != 2 {
		t.Errorf("TopPosts after the rollback = %+v, %v; want pa1 with its 2 comments", top, err)
	}

	// Fan-out: every shard's rows.
	all, err := db.BlogQueries.AllTitlesAllShards(ctx)
	var ids []int64
	for _, row := range all {
		ids = append(ids, int64(row.ID))
	}
	slices.Sort(ids)
	wantIDs := []int64{int64(pa1), int64(pa2), int64(pb1)}
	slices.Sort(wantIDs)
	if err != nil || !slices.Equal(ids, wantIDs) {
		t.Errorf("AllTitlesAllShards = %v, %v; want %v", ids, err, wantIDs)
	}

	// Default database and partition.
	uid, err := db.Users.Insert(ctx, &User{Email: "ada@example.com", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DefaultQueries.RenameUser(ctx, RenameUserParams{ID: uid, Name: "Ada L."}); err != nil {
		t.Fatal(err)
	}
	if u, err := db.DefaultQueries.UserByEmail(ctx, "ada@example.com"); err != nil || u.ID != int64(uid) || u.Name != "Ada L." {
		t.Errorf("UserByEmail = %+v, %v", u, err)
	}
	if _, err := db.DefaultQueries.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("UserByEmail(nobody) = %v, want ErrNotFound", err)
	}
	err = db.InDefaultTx(ctx, func(tx *DefaultTx) error {
		u, err := db.DefaultQueries.WithTx(tx).UserByEmail(ctx, "ada@example.com")
		if err != nil || u.ID != int64(uid) {
			t.Errorf("tx UserByEmail = %+v, %v", u, err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := db.PageViews.Insert(ctx, &PageView{PostID: int64(pa1), At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.AnalyticsQueries.ViewCount(ctx, int64(pa1)); err != nil || n != 2 {
		t.Errorf("ViewCount = %d, %v; want 2", n, err)
	}

	// A failing shard: the fan-out returns the other shards' rows and says
	// which shard failed.
	conn, err := pgx.Connect(ctx, urls[1])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	bShard := blog.ShardOfInt64(b)
	if _, err := conn.Exec(ctx, "DROP TABLE "+runtime.QuoteIdent(runtime.SchemaName("blog", bShard))+".posts CASCADE"); err != nil {
		t.Fatal(err)
	}
	all, err = db.BlogQueries.AllTitlesAllShards(ctx)
	var fe *runtime.FanOutError
	if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Shard != bShard {
		t.Fatalf("AllTitlesAllShards with shard %d broken: %v, want a FanOutError naming it", bShard, err)
	}
	if len(all) != 2 {
		t.Errorf("AllTitlesAllShards with shard %d broken returned %d rows, want the 2 of a's shard", bShard, len(all))
	}
}
`
