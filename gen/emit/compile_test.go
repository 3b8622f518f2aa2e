package emit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests compile generated code against the real runtime package in a
// throwaway module (example.com/app) that replaces shardgen with this
// checkout. They need the go command and the module cache, not the network.

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	return root
}

// tempModule writes files into a new module that requires this checkout
// with the checkout's own requirements and go.sum.
func tempModule(t testing.TB, files map[string][]byte) string {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod := strings.Replace(string(gomod), "module github.com/shardgen/shardgen", "module example.com/app", 1)
	mod += "\nrequire github.com/shardgen/shardgen v0.0.0-00010101000000-000000000000\n\nreplace github.com/shardgen/shardgen => " + root + "\n"
	files["go.mod"] = []byte(mod)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files["go.sum"] = sum
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// goCmd runs the go command in dir, offline, and returns its combined output.
func goCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "GOSUMDB=off")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

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
	if testing.Short() {
		t.Skip("compiles a module")
	}
	dir := tempModule(t, generated(t))
	if out, err := goCmd(dir, "vet", "./..."); err != nil {
		t.Fatalf("go vet of generated code: %v\n%s", err, out)
	}
	// The build constraint keeps generated code out of a -tags=shardgen
	// build, which is how the loader loads a package whose generated code
	// is stale: only models.go remains, and it must still compile.
	if out, err := goCmd(dir, "build", "-tags=shardgen", "./..."); err != nil {
		t.Fatalf("go build -tags=shardgen: %v\n%s", err, out)
	}
}

// TestMisuseFailsToCompile pins the type safety of generated code: keys of
// one group, IDs of one model and plain integers are not accepted where
// another group's key or another model's ID is expected, and a shard
// transaction offers no repository of another group.
func TestMisuseFailsToCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a module")
	}
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
	dir := tempModule(t, files)
	out, err := goCmd(dir, "build", "./...")
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
