package emit

import (
	"strings"
	"testing"

	"github.com/shardgen/shardgen/internal/testmod"
)

// These tests compile generated code against the real runtime package in a
// throwaway module (example.com/app) that replaces shardgen with this
// checkout. They need the go command and the module cache, not the network.

// generated returns the emitted files of blogPackage plus its structs.
func generated(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := Package(blogPackage())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{"models.go": []byte(blogSource)}
	for _, f := range files {
		out[f.Name] = f.Content
	}
	return out
}

func TestGeneratedCodeBuildsAndVets(t *testing.T) {
	dir := testmod.New(t, generated(t))
	if out, err := testmod.Go(dir, "vet", "./..."); err != nil {
		t.Fatalf("go vet of generated code: %v\n%s", err, out)
	}
	// The build constraint keeps generated code out of a -tags=shardgen
	// build, which is how the loader loads a package whose generated code
	// is stale: only models.go remains, and it must still compile.
	if out, err := testmod.Go(dir, "build", "-tags=shardgen", "./..."); err != nil {
		t.Fatalf("go build -tags=shardgen: %v\n%s", err, out)
	}
}

// TestMisuseFailsToCompile pins the type safety of generated code: keys of
// one group, IDs of one model and plain integers are not accepted where
// another group's key or another model's ID is expected, and a shard
// transaction offers no repository of another group.
func TestMisuseFailsToCompile(t *testing.T) {
	files := generated(t)
	files["misuse.go"] = []byte(`package app

import (
	"context"

	"github.com/shardgen/shardgen/runtime"
)

func misuse(ctx context.Context, db *DB, postID PostID, blogKey BlogKey, metricsKey MetricsKey, n int64) {
	_, _ = db.Comments.Get(ctx, postID)
	_, _ = db.Posts.List(ctx, metricsKey, runtime.Page{})
	_ = db.InMetricsShard(ctx, blogKey, nil)
	_, _ = db.Posts.Get(ctx, n)
	_, _ = db.Comments.ListByPost(ctx, CommentID(1), runtime.Page{})
	_ = db.InBlogShard(ctx, blogKey, func(tx *BlogTx) error {
		_ = tx.Counters()
		return nil
	})
	_, _ = db.Users.List(ctx, blogKey, runtime.Page{})
}
`)
	dir := testmod.New(t, files)
	out, err := testmod.Go(dir, "build", "./...")
	if err == nil {
		t.Fatalf("misuse compiled:\n%s", out)
	}
	for _, want := range []string{
		"misuse.go:10:30: cannot use postID (variable of int64 type PostID) as CommentID value in argument to db.Comments.Get",
		"misuse.go:11:28: cannot use metricsKey (variable of string type MetricsKey) as BlogKey value in argument to db.Posts.List",
		"misuse.go:12:29: cannot use blogKey (variable of int64 type BlogKey) as MetricsKey value in argument to db.InMetricsShard",
		"misuse.go:13:27: cannot use n (variable of type int64) as PostID value in argument to db.Posts.Get",
		"misuse.go:14:37: cannot use CommentID(1) (constant 1 of int64 type CommentID) as PostID value in argument to db.Comments.ListByPost",
		"misuse.go:16:10: tx.Counters undefined (type *BlogTx has no field or method Counters)",
		"misuse.go:19:37: too many arguments in call to db.Users.List",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("go build output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("go build output:\n%s", out)
	}
}
