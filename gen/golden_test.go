package gen

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shardgen/shardgen/internal/testmod"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.txtar with the generator's output")

// The golden cases live in testdata/golden at the repository root. Each
// archive holds the input files of one package at its root (models.go,
// doc.go, ...) and either the expected generated files under want/ or, for
// cases named fail_*, the expected diagnostics in a file named stderr. A
// success case may also have a stderr file for its warnings.
const (
	wantPrefix = "want/"
	stderrName = "stderr"
)

func TestGolden(t *testing.T) {
	root := testmod.Root(t)
	cases, err := filepath.Glob(filepath.Join(root, "testdata", "golden", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases in testdata/golden")
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".txtar")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runGolden(t, root, path, strings.HasPrefix(name, "fail_"))
		})
	}
}

func runGolden(t *testing.T, root, path string, fail bool) {
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []txtar.File
	wantFiles := map[string]string{}
	wantStderr := ""
	for _, f := range ar.Files {
		switch {
		case f.Name == stderrName:
			wantStderr = string(f.Data)
		case strings.HasPrefix(f.Name, wantPrefix):
			wantFiles[strings.TrimPrefix(f.Name, wantPrefix)] = string(f.Data)
		default:
			inputs = append(inputs, f)
		}
	}
	if len(inputs) == 0 {
		t.Fatal("archive has no input files")
	}
	dir := testmod.New(t, nil)
	for _, f := range inputs {
		writeFile(t, filepath.Join(dir, f.Name), f.Data)
	}
	env := testmod.Env()

	res := Generate(Options{Dir: dir, Patterns: []string{"."}, Env: env})
	var stderr bytes.Buffer
	res.Diags.Print(&stderr, dir)
	gotFiles := map[string]string{}
	for _, f := range res.Files {
		rel, err := filepath.Rel(dir, f.Path)
		if err != nil || f.Remove {
			t.Fatalf("unexpected output %+v in a fresh module", f)
		}
		gotFiles[filepath.ToSlash(rel)] = string(f.Content)
	}

	if *update {
		rewrite(t, path, ar.Comment, inputs, stderr.String(), gotFiles)
	} else {
		if diff := cmp.Diff(wantStderr, stderr.String()); diff != "" {
			t.Errorf("diagnostics differ (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
			t.Errorf("generated files differ (-want +got):\n%s", diff)
		}
	}
	errs := res.Diags.Errors()
	switch {
	case fail && errs == 0:
		t.Fatalf("a fail_ case must produce errors; got none:\n%s", stderr.String())
	case fail && len(res.Files) > 0:
		t.Fatalf("a run with errors produced %d files", len(res.Files))
	case fail:
		return
	case errs > 0:
		t.Fatalf("unexpected errors:\n%s", stderr.String())
	}

	// The generated code must build and vet in a module like a user's.
	if err := Write(res.Files); err != nil {
		t.Fatal(err)
	}
	goCmd(t, dir, env, "build", "./...")
	goCmd(t, dir, env, "vet", "./...")
	if strings.Contains(gotFiles["shardgen.go"], "//go:build !shardgen && (") {
		// The models' build constraint is carried: the package builds for
		// a system it excludes the models on, too.
		goCmd(t, dir, append(slices.Clone(env), "GOOS=windows", "GOARCH=amd64"), "build", "./...")
	}

	// Loading again, now with the generated files present, gives the same
	// output byte for byte: generation is deterministic and the generated
	// files never affect the loader.
	again := Generate(Options{Dir: dir, Patterns: []string{"."}, Env: env})
	if again.Diags.Errors() > 0 {
		var b bytes.Buffer
		again.Diags.Print(&b, dir)
		t.Fatalf("second run failed:\n%s", b.String())
	}
	stale, err := Stale(again.Files)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Errorf("second run differs from the first:\n%s", strings.Join(stale, "\n"))
	}
}

// rewrite writes the archive back with the generator's output.
func rewrite(t *testing.T, path string, comment []byte, inputs []txtar.File, stderr string, files map[string]string) {
	t.Helper()
	ar := &txtar.Archive{Comment: comment, Files: slices.Clone(inputs)}
	if stderr != "" {
		ar.Files = append(ar.Files, txtar.File{Name: stderrName, Data: []byte(stderr)})
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ar.Files = append(ar.Files, txtar.File{Name: wantPrefix + name, Data: []byte(files[name])})
	}
	if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func goCmd(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestGoldenRedisImportsStayInTheRedisFile: an application whose models use
// no Redis feature must link no Redis client, so no generated file but the
// Redis layer (shardgen_redis.go, only generated when a model uses Redis)
// may import runtime/shardredis or a Redis client, and a package without
// Redis features gets no Redis layer at all.
func TestGoldenRedisImportsStayInTheRedisFile(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join(testmod.Root(t), "testdata", "golden", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	sawRedis := false
	for _, path := range cases {
		ar, err := txtar.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		uses := false
		for _, f := range ar.Files {
			input := !strings.HasPrefix(f.Name, wantPrefix) && f.Name != stderrName
			if input && (strings.Contains(string(f.Data), "//shardgen:cache") || strings.Contains(string(f.Data), `"counter`)) {
				uses = true
			}
		}
		for _, f := range ar.Files {
			name := strings.TrimPrefix(f.Name, wantPrefix)
			if name == f.Name || !strings.HasSuffix(name, ".go") {
				continue
			}
			imports := strings.Contains(string(f.Data), `"github.com/shardgen/shardgen/runtime/shardredis"`) || strings.Contains(string(f.Data), "rueidis") || strings.Contains(string(f.Data), "go-redis")
			switch {
			case name == "shardgen_redis.go":
				sawRedis = true
				if !uses {
					t.Errorf("%s: a Redis layer for a package whose models use no Redis feature", filepath.Base(path))
				}
			case imports:
				t.Errorf("%s: %s imports a Redis package; only shardgen_redis.go may", filepath.Base(path), name)
			}
		}
	}
	if !sawRedis {
		t.Error("no golden case generates shardgen_redis.go")
	}
}
