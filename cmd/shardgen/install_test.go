package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/runtime/pgtest"
)

// readmeBlocks returns the fenced blocks of lang in README between the
// first occurrences of from and to.
func readmeBlocks(t *testing.T, readme, from, to, lang string) []string {
	t.Helper()
	a, b := strings.Index(readme, from), strings.Index(readme, to)
	if a < 0 || b < a {
		t.Fatalf("README.md has no %q followed by %q", from, to)
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```\n").FindAllStringSubmatch(readme[a:b], -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// linkedModules are the modules an application's binary may link: the
// runtime's (shardgen itself, pgx and what pgx needs), nothing of the
// generator's.
var linkedModules = []string{
	"github.com/shardgen/shardgen",
	"github.com/jackc/pgx/v5", "github.com/jackc/pgpassfile", "github.com/jackc/pgservicefile", "github.com/jackc/puddle/v2",
	"golang.org/x/sync", "golang.org/x/text",
}

// TestReadmeInstall follows "Using shardgen in an application" of
// README.md as written, in a new module, offline: no module proxy, no
// checksum database, no network (the go command's HTTP goes to a closed
// port), only the module cache that building this checkout filled. Step 1's
// commands, step 2's files, step 3's go generate, step 4's main.go, built
// and vetted, then step 4's run command twice against a throwaway
// PostgreSQL server. It checks what step 1 adds to the app's go.mod (the
// tool and the generator's dependencies, sqlc among them) and that the
// app's binary links only the runtime's modules.
func TestReadmeInstall(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(src)
	install := readmeBlocks(t, readme, "**1. Install.**", "**2. Annotate**", "sh")
	models := readmeBlocks(t, readme, "**2. Annotate**", "**3. Generate**", "go")
	use := readmeBlocks(t, readme, "**4. Use**", "The repositories of a sharded model", "go")
	runCmd := readmeBlocks(t, readme, "**4. Use**", "The repositories of a sharded model", "sh")
	if len(install) != 1 || len(models) != 2 || len(use) != 1 || len(runCmd) != 1 {
		t.Fatalf("README.md's steps changed shape: %d install, %d model, %d main and %d run blocks, want 1, 2, 1, 1",
			len(install), len(models), len(use), len(runCmd))
	}
	if !strings.Contains(readme, "`go mod init example.com/app`") || !strings.Contains(readme, "`go generate ./...`") {
		t.Fatal("README.md no longer says go mod init example.com/app and go generate ./...")
	}

	app := t.TempDir()
	env := offlineEnv(t)
	sh := func(script string) string {
		t.Helper()
		cmd := exec.Command("sh", "-ec", script)
		cmd.Dir, cmd.Env = app, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}

	// Step 1, in a new module.
	sh("go mod init example.com/app")
	sh(strings.ReplaceAll(install[0], "/path/to/shardgen", root))
	gomod, err := os.ReadFile(filepath.Join(app, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	indirect := strings.Count(string(gomod), "// indirect")
	for _, want := range []string{"\ntool github.com/shardgen/shardgen/cmd/shardgen\n", "github.com/sqlc-dev/sqlc ", "github.com/dave/jennifer ", "golang.org/x/tools ", "github.com/jackc/pgx/v5 "} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("after step 1, go.mod lacks %q:\n%s", want, gomod)
		}
	}
	if indirect < 30 || indirect > 80 {
		t.Errorf("step 1 added %d indirect requirements; README.md says some fifty", indirect)
	}

	// Step 2 (the package clause's file is doc.go) and step 4's main.go.
	if err := os.Mkdir(filepath.Join(app, "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"store/doc.go": models[0], "store/models.go": models[1], "main.go": use[0]} {
		if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Step 3, then build: the snippet compiles as written.
	sh("go generate ./...")
	sh("go vet ./... && go build -o app-bin .")

	// The binary links the runtime's modules only.
	out := sh("go version -m app-bin")
	var linked []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "dep" {
			linked = append(linked, f[1])
			if !slices.Contains(linkedModules, f[1]) {
				t.Errorf("the app's binary links %s", f[1])
			}
		}
	}
	if !slices.Contains(linked, "github.com/jackc/pgx/v5") || !slices.Contains(linked, "github.com/shardgen/shardgen") {
		t.Errorf("go version -m shows no pgx or shardgen: %s", out)
	}
	t.Logf("the app's binary links %v", linked)

	// Step 4's run command, twice, on a throwaway server.
	srv := pgtest.New(t, 1)[0]
	ctx := context.Background()
	for _, db := range []string{"app", "orders"} {
		if err := srv.CreateDatabase(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	run := strings.NewReplacer("postgres://app@db0/app", srv.URL("app"), "postgres://app@db1/orders", srv.URL("orders")).Replace(runCmd[0])
	if run == runCmd[0] {
		t.Fatalf("README.md's run command names other URLs: %s", run)
	}
	for i, want := range []string{"has 1 recent orders", "has 2 recent orders"} {
		if out := sh(run); !regexp.MustCompile(`^order \d+ of 4200 on shard \d+; customer 1 ` + want + "\n$").MatchString(out) {
			t.Errorf("run %d printed %q, want ... customer 1 %s", i+1, out, want)
		}
	}
}

// offlineEnv is the environment with the go command kept off the network:
// no module proxy, a checksum database and HTTP proxies on a closed port,
// the module and build caches of this machine.
func offlineEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "SHARDGEN_") || strings.EqualFold(k, "http_proxy") || strings.EqualFold(k, "https_proxy") || strings.EqualFold(k, "no_proxy") {
			continue
		}
		env = append(env, kv)
	}
	for _, name := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOROOT"} {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		env = append(env, name+"="+strings.TrimSpace(string(out)))
	}
	return append(env,
		"GOPROXY=off", "GOSUMDB=sum.golang.org http://127.0.0.1:1", "GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=", "GOFLAGS=",
		"GOWORK=off", "GOTOOLCHAIN=local", "HTTP_PROXY=http://127.0.0.1:1", "HTTPS_PROXY=http://127.0.0.1:1")
}
