package move

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shardgen/shardgen/runtime"
)

// Main is the command line of a move, for an application's Spec: `shardgen
// move` builds a small program around it for the generated package it is
// pointed at, and an application may call it from a command of its own:
//
//	func main() { os.Exit(move.Main(blogdb.Spec, os.Args[1:], os.Stdout, os.Stderr)) }
//
// Usage:
//
//	move -group blog -shards 12-15 -to c   copy, catch up, fence, verify, switch (resumes an interrupted move of the same shards)
//	move -status                            every move: phase, shards, servers, last error
//	move -resume ID                         continue an interrupted move
//	move -abort ID                          undo a move that has not switched
//	move -finish ID                         drop the old copy of a done move
//
// The servers come from -config (a JSON file, runtime.LoadConfigFile) or
// the SHARDGEN_* environment variables (runtime.ConfigFromEnv); the target
// server must be in the group's list, with no shards ("shards": "").
func Main(spec runtime.Spec, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shardgen move", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "JSON config file (default: the SHARDGEN_* environment variables)")
	group := fs.String("group", "", "shard group of the shards to move")
	shards := fs.String("shards", "", "inclusive range of logical shards to move, e.g. 12-15")
	to := fs.String("to", "", "name of the target server in the group's config")
	status := fs.Bool("status", false, "list the moves")
	resume := fs.Int64("resume", 0, "continue move `ID`")
	abort := fs.Int64("abort", 0, "abort move `ID` (before its switch)")
	finish := fs.Int64("finish", 0, "drop the old copy of done move `ID`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: shardgen move -group G -shards A-B -to SERVER | -status | -resume ID | -abort ID | -finish ID  [-config file.json]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	var cfg runtime.Config
	var err error
	if *config != "" {
		cfg, err = runtime.LoadConfigFile(*config)
	} else {
		cfg, err = runtime.ConfigFromEnv()
	}
	if err != nil {
		fmt.Fprintf(stderr, "shardgen move: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := Options{Config: cfg, Spec: spec, Progress: progressPrinter(stdout)}
	var st Status
	switch {
	case *status:
		list, err := List(ctx, opts, 0)
		if err != nil {
			fmt.Fprintf(stderr, "shardgen move: %v\n", err)
			return 1
		}
		PrintStatus(stdout, list)
		return 0
	case *resume != 0:
		st, err = Resume(ctx, opts, *resume)
	case *abort != 0:
		st, err = Abort(ctx, opts, *abort)
	case *finish != 0:
		st, err = Finish(ctx, opts, *finish)
	default:
		if *group == "" || *shards == "" || *to == "" {
			fs.Usage()
			return 2
		}
		rng, perr := runtime.ParseShardRange(*shards)
		if perr != nil {
			fmt.Fprintf(stderr, "shardgen move: -shards: %v\n", perr)
			return 2
		}
		st, err = Run(ctx, opts, Request{Group: *group, Shards: rng, To: *to})
	}
	if err != nil {
		fmt.Fprintf(stderr, "shardgen move: %v\n", err)
		if errors.Is(err, ErrMoveFailed) && st.ID != 0 {
			fmt.Fprintf(stderr, "shardgen move: resume with -resume %d or undo with -abort %d\n", st.ID, st.ID)
		}
		return 1
	}
	fmt.Fprintf(stdout, "move %d: group %s shards %s %s -> %s: %s\n", st.ID, st.Group, st.Shards, st.Source, st.Target, st.Phase)
	if st.Phase == PhaseDone {
		fmt.Fprintf(stdout, "  verified %d rows; fence to switch %s; the old copy stays on %s until -finish %d\n",
			st.State.Rows, st.State.SwitchAt.Sub(st.State.FencedAt).Round(time.Millisecond), st.Source, st.ID)
	}
	return 0
}

// progressPrinter prints one line per phase and one per second of copy.
func progressPrinter(w io.Writer) func(Progress) {
	last := ""
	return func(p Progress) {
		switch {
		case p.Phase == PhaseCatchup && p.Tables > 0:
			eta := ""
			if p.ETA > 0 {
				eta = ", ETA " + p.ETA.Round(time.Second).String()
			}
			fmt.Fprintf(w, "  copy: %d/%d tables, %d rows, %s, lag %s%s\n", p.TablesReady, p.Tables, p.Rows, bytes(p.Bytes), bytes(p.LagBytes), eta)
		case p.Phase != last:
			fmt.Fprintf(w, "move %d: %s (%s)\n", p.ID, p.Phase, p.Elapsed.Round(time.Millisecond))
		}
		last = p.Phase
	}
}

func bytes(n int64) string {
	switch {
	case n < 0:
		return "?"
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
}

// PrintStatus writes a table of moves.
func PrintStatus(w io.Writer, list []Status) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no moves")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tGROUP\tSHARDS\tFROM\tTO\tPHASE\tUPDATED\tERROR")
	for _, s := range list {
		e := s.Error
		if len(e) > 80 {
			e = e[:77] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Group, s.Shards, s.Source, s.Target, s.Phase,
			s.Updated.UTC().Format("2006-01-02 15:04:05"), strings.ReplaceAll(e, "\n", " "))
	}
	tw.Flush()
}
