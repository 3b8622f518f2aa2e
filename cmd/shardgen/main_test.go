package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/shardgen/shardgen/internal/testmod"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"shardgen": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar. Each script's work directory
// becomes module example.com/app (unless the script brings its own go.mod)
// requiring this checkout through a replace directive, so that the loader,
// go build and go generate work offline from the module cache.
func TestScripts(t *testing.T) {
	root := testmod.Root(t)
	goEnv := map[string]string{}
	for _, name := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOROOT"} {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		goEnv[name] = strings.TrimSpace(string(out))
	}
	gomod, gosum := testmod.ModFiles(t, root)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Setup: func(env *testscript.Env) error {
			for k, v := range goEnv {
				env.Setenv(k, v)
			}
			for _, kv := range testmod.Offline {
				k, v, _ := strings.Cut(kv, "=")
				env.Setenv(k, v)
			}
			env.Setenv("REPO", root)
			modPath := filepath.Join(env.WorkDir, "go.mod")
			if _, err := os.Stat(modPath); err == nil {
				return nil
			}
			if err := os.WriteFile(modPath, gomod, 0o644); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(env.WorkDir, "go.sum"), gosum, 0o644)
		},
	})
}
