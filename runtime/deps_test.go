package runtime

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies proves the runtime links only the standard library, pgx
// (with the jackc modules, x/sync and x/text it needs) and shardgen's own
// stdlib-only templates, internal/editdist (the did-you-mean rule it
// shares with the generator) and runtime/internal/confcheck (configuration
// checks it shares with shardredis) packages: an application that imports the
// runtime and its generated code never pulls in the generator's dependencies
// (x/tools, jennifer, go-cmp, sqlc, ...), nor a Redis client unless it
// imports runtime/shardredis. runtime/redistest is standard library only;
// shardredis adds rueidis (and the x/sys/cpu it needs) and nothing else.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	for _, pkg := range []string{".", "./pgtest", "./redistest", "./shardredis", "./placement", "./move", "./modelmove", "./lookup"} {
		out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		var seen []string
		for _, p := range strings.Fields(string(out)) {
			seen = append(seen, p)
			if !allowedDep(p) || (pkg != "./shardredis" && !allowedWithoutRedis(p)) {
				t.Errorf("%s depends on %s", pkg, p)
			}
		}
		if pkg != "./redistest" && !strings.Contains(string(out), "github.com/jackc/pgx/v5\n") {
			t.Errorf("go list output for %s looks wrong (no pgx): %v", pkg, seen)
		}
		// Programs (the blog demo) use pgtest outside tests: it must not
		// link package testing.
		all, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, all)
		}
		for _, p := range strings.Fields(string(all)) {
			if p == "testing" {
				t.Errorf("%s links package testing", pkg)
			}
		}
		t.Logf("%s: non-standard dependencies: %s", pkg, strings.Join(seen, " "))
	}
}

// allowedWithoutRedis rejects every Redis client (and what only it needs)
// for packages other than shardredis.
func allowedWithoutRedis(p string) bool {
	return !strings.HasPrefix(p, "github.com/redis/") && !strings.HasPrefix(p, "golang.org/x/sys/") &&
		p != "github.com/shardgen/shardgen/runtime/shardredis"
}

func allowedDep(p string) bool {
	switch {
	case p == "github.com/shardgen/shardgen/runtime",
		p == "github.com/shardgen/shardgen/runtime/pgtest",
		p == "github.com/shardgen/shardgen/runtime/redistest",
		p == "github.com/shardgen/shardgen/runtime/shardredis",
		p == "github.com/redis/rueidis",
		strings.HasPrefix(p, "github.com/redis/rueidis/internal/"),
		p == "golang.org/x/sys/cpu",
		p == "github.com/shardgen/shardgen/runtime/placement",
		p == "github.com/shardgen/shardgen/runtime/move",
		p == "github.com/shardgen/shardgen/runtime/modelmove",
		p == "github.com/shardgen/shardgen/runtime/lookup",
		p == "github.com/shardgen/shardgen/templates",
		p == "github.com/shardgen/shardgen/internal/editdist",
		p == "github.com/shardgen/shardgen/runtime/internal/confcheck":
		return true
	case strings.HasPrefix(p, "github.com/jackc/"),
		strings.HasPrefix(p, "golang.org/x/sync/"),
		strings.HasPrefix(p, "golang.org/x/text/"):
		return true
	}
	return false
}
