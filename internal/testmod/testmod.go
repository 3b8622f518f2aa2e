// Package testmod builds the temporary modules the generator's tests load,
// generate and compile in, like a user's module: module example.com/app,
// requiring this checkout of shardgen through a replace directive, with the
// checkout's own requirements and go.sum, and a go command that never
// touches the network (requirements come from the module cache). It is the
// one copy of that recipe, for tests only.
package testmod

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Offline is the go command's environment in a temporary module, as
// KEY=value: requirements may be completed from the module cache, never
// downloaded, and no workspace or toolchain switch interferes.
var Offline = []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "GOSUMDB=off"}

// Env returns the process environment with Offline appended.
func Env() []string { return append(os.Environ(), Offline...) }

// Root returns the root of this checkout: the nearest directory upward of
// the test's working directory whose go.mod declares shardgen's module.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && moduleRE.FindString(string(data)) == "module github.com/shardgen/shardgen" {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testmod: the shardgen checkout holding the working directory was not found")
		}
		dir = parent
	}
}

// moduleRE matches the module line of a go.mod.
var moduleRE = regexp.MustCompile(`(?m)^module .*$`)

// ModFiles returns the go.mod and go.sum of a module example.com/app that
// requires the checkout at root (replace) with the checkout's requirements.
func ModFiles(tb testing.TB, root string) (gomod, gosum []byte) {
	tb.Helper()
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		tb.Fatal(err)
	}
	mod = moduleRE.ReplaceAll(mod, []byte("module example.com/app"))
	mod = append(mod, "\nrequire github.com/shardgen/shardgen v0.0.0-00010101000000-000000000000\n\nreplace github.com/shardgen/shardgen => "+root+"\n"...)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		tb.Fatal(err)
	}
	return mod, sum
}

// New writes files (slash-separated paths relative to the module root)
// into a new temporary module with ModFiles' go.mod and go.sum, and returns
// its directory (symbolic links resolved, so positions in diagnostics
// match it).
func New(tb testing.TB, files map[string][]byte) string {
	tb.Helper()
	dir, err := filepath.EvalSymlinks(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	gomod, gosum := ModFiles(tb, Root(tb))
	Write(tb, dir, map[string][]byte{"go.mod": gomod, "go.sum": gosum})
	Write(tb, dir, files)
	return dir
}

// Write writes files (slash-separated paths) under dir, creating
// directories as needed.
func Write(tb testing.TB, dir string, files map[string][]byte) {
	tb.Helper()
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Go runs the go command in dir with Env and returns its combined output.
func Go(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = Env()
	out, err := cmd.CombinedOutput()
	return strings.TrimRight(string(out), "\n") + "\n", err
}
