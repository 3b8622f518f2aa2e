// Command shardgen generates typed, shard-aware repositories and the SQL DDL
// of every database from annotated Go structs.
//
// Usage:
//
//	shardgen [flags] [packages]
//
// Packages are go/packages patterns; the default is ".", the package in the
// current directory, which is what a //go:generate line wants:
//
//	//go:generate shardgen
//
// or, with shardgen declared as a tool in go.mod (go get -tool
// github.com/shardgen/shardgen/cmd/shardgen):
//
//	//go:generate go tool shardgen
//
// Problems are printed like compiler errors, file:line:col relative to the
// current directory, all of them at once; when there is any error, nothing
// is written and the exit status is 1.
//
// Flags:
//
//	-check    write nothing; print a diff for every generated file that is
//	          missing, stale or obsolete, and exit 1 if there is any (for CI)
//	-v        print the files written
//	-version  print shardgen's version and exit
//	-h        print this usage and exit 0
//
// The graph subcommand prints the layout of one package as a Mermaid
// flowchart instead of generating: its databases and shard groups, the
// tables on each, co-located relations and plain-ID references, and, with
// -config file or -env (the SHARDGEN_* variables), the servers and the
// ranges of logical shards each holds:
//
//	shardgen graph [-config file | -env] [package]
//
// shardgen move moves logical shards to another server while the
// application runs (see runtime/move and the README's "Growing onto a new
// server"):
//
//	shardgen move -pkg ./blogdb -group blog -shards 12-15 -to c
//	shardgen move -pkg ./blogdb -status | -resume ID | -abort ID | -finish ID
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"

	"github.com/shardgen/shardgen/gen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, minus the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "graph" {
		return runGraph(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "move" {
		return runMove(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("shardgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	check := fs.Bool("check", false, "write nothing; print stale generated files as diffs and exit 1 if any")
	verbose := fs.Bool("v", false, "print the files written")
	version := fs.Bool("version", false, "print shardgen's version and exit")
	printUsage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprint(w, usage)
		fs.PrintDefaults()
	}
	fs.Usage = func() {} // printed below, to stdout when asked for
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		printUsage(stderr)
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "shardgen: %v\n", err)
		return 1
	}
	// go generate sets GOFILE for the generators it runs; it then still
	// reads the files of this package and of those after it, so a file
	// removed under it would fail the run (see gen.Options.KeepRemoved).
	underGoGenerate := os.Getenv("GOFILE") != "" && !*check
	res := gen.Generate(gen.Options{Dir: cwd, Patterns: fs.Args(), KeepRemoved: underGoGenerate})
	res.Diags.Print(stderr, cwd)
	if res.Diags.Errors() > 0 {
		return 1
	}
	if *check {
		return runCheck(res.Files, cwd, stdout, stderr)
	}
	if err := gen.Write(res.Files); err != nil {
		fmt.Fprintf(stderr, "shardgen: %v\n", err)
		return 1
	}
	if *verbose {
		for _, f := range res.Files {
			verb := "wrote"
			if f.Remove {
				verb = "removed"
			}
			fmt.Fprintf(stdout, "%s %s\n", verb, rel(cwd, f.Path))
		}
	}
	return 0
}

const usage = `shardgen generates typed, shard-aware PostgreSQL repositories and the SQL DDL
of every database from annotated Go structs (see github.com/shardgen/shardgen).

usage: shardgen [flags] [packages]
       shardgen graph [-config file | -env] [package]
       shardgen move [-pkg dir] -group G -shards A-B -to SERVER | -status | -resume ID | -abort ID | -finish ID

Packages are go/packages patterns; the default is ".", the package in the
current directory (what a //go:generate line wants). Problems are printed as
file:line:col, all at once; when there is any, nothing is written and the exit
status is 1. The graph subcommand prints a package's layout as a Mermaid
flowchart instead of generating.

flags:
`

// versionString is shardgen's module version as the go command recorded
// it ("(devel)" in a checkout), and the Go version it was built with.
func versionString() string {
	v := "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, d := range bi.Deps {
			// Run as a tool of another module, shardgen is a dependency.
			if d.Path == "github.com/shardgen/shardgen" {
				v = d.Version
			}
		}
	}
	return "shardgen " + v + " " + goruntime.Version()
}

// runCheck prints a diff per stale file, with paths relative to cwd so that
// the output is the same on every machine.
func runCheck(files []gen.OutputFile, cwd string, stdout, stderr io.Writer) int {
	for i := range files {
		files[i].Path = rel(cwd, files[i].Path)
	}
	diffs, err := gen.Stale(files)
	if err != nil {
		fmt.Fprintf(stderr, "shardgen: %v\n", err)
		return 1
	}
	for _, d := range diffs {
		fmt.Fprint(stdout, d)
	}
	switch len(diffs) {
	case 0:
		return 0
	case 1:
		fmt.Fprintln(stderr, "shardgen: 1 generated file is stale; run shardgen (go generate) and commit the result")
	default:
		fmt.Fprintf(stderr, "shardgen: %d generated files are stale; run shardgen (go generate) and commit the result\n", len(diffs))
	}
	return 1
}

// rel returns path relative to dir when it is inside it, else path.
func rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && filepath.IsLocal(r) {
		return r
	}
	return path
}
