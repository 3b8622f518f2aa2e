package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/shardgen/shardgen/gen"
	"github.com/shardgen/shardgen/gen/graph"
	"github.com/shardgen/shardgen/runtime"
)

// graphUsage is the synopsis of the graph subcommand.
const graphUsage = "usage: shardgen graph [-config file | -env] [package]"

// runGraph is "shardgen graph": it prints the layout of one package as a
// Mermaid flowchart, and with a runtime configuration the servers and the
// shard ranges each holds. The package is checked exactly as generation
// checks it, so invalid input gets the same positioned errors (and exit
// status 1); nothing is written.
func runGraph(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shardgen graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "draw the servers of this runtime configuration file (runtime.LoadConfigFile)")
	fromEnv := fs.Bool("env", false, "draw the servers of the SHARDGEN_* environment variables (runtime.ConfigFromEnv)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, graphUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || *configFile != "" && *fromEnv {
		fs.Usage()
		return 2
	}
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "shardgen: %v\n", err)
		return 1
	}
	res := gen.Generate(gen.Options{Dir: cwd, Patterns: fs.Args()})
	res.Diags.Print(stderr, cwd)
	if res.Diags.Errors() > 0 {
		return 1
	}
	if len(res.Packages) != 1 {
		fmt.Fprintf(stderr, "shardgen: graph draws one package, and %d have shardgen directives\n", len(res.Packages))
		return 1
	}
	p := res.Packages[0]
	var place *graph.Placement
	if *configFile != "" || *fromEnv {
		var cfg runtime.Config
		if *fromEnv {
			cfg, err = runtime.ConfigFromEnv()
		} else {
			cfg, err = runtime.LoadConfigFile(*configFile)
		}
		if err == nil {
			place, err = graph.FromConfig(p, cfg)
		}
		if err != nil {
			// Configuration errors name their origin ("shardgen runtime config: ...").
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	fmt.Fprint(stdout, graph.Mermaid(p, place))
	return 0
}
