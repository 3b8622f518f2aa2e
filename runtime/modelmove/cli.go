package modelmove

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

// Main is the command line of a model move, for the new version's Spec:
// `shardgen move -model` builds a small program around it for the
// generated package it is pointed at (and translates -model to -table and
// -to from the package's models); an application may call it from a
// command of its own:
//
//	func main() { os.Exit(modelmove.Main(blogdb.Spec, os.Args[1:], os.Stdout, os.Stderr)) }
//
// Usage:
//
//	-table page_views -to default   copy, catch up, fence, verify, switch (resumes an interrupted move of the same table)
//	-table page_views -to blog      the same into shard group blog (-key COLUMN: its shard key), new IDs and an ID map
//	-status                         every model move: phase, table, databases, last error
//	-resume ID                      continue an interrupted move
//	-abort ID                       undo a move that has not switched
//	-finish ID                      drop the old, fenced table of a done move
//
// The databases come from -config (a JSON file, runtime.LoadConfigFile) or
// the SHARDGEN_* environment variables (runtime.ConfigFromEnv).
func Main(spec runtime.Spec, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shardgen move -model", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "JSON config file (default: the SHARDGEN_* environment variables)")
	table := fs.String("table", "", "the model's table")
	to := fs.String("to", "", "the database or shard group the new models place the table in")
	key := fs.String("key", "", "the shard key column, moving into a group (default: the one the Spec's DDL names)")
	status := fs.Bool("status", false, "list the model moves")
	resume := fs.Int64("resume", 0, "continue move `ID`")
	abort := fs.Int64("abort", 0, "abort move `ID` (before its switch)")
	finish := fs.Int64("finish", 0, "drop the old table of done move `ID`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: shardgen move -model M | -table T -to DATABASE | -status | -resume ID | -abort ID | -finish ID  [-config file.json]")
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
		if *table == "" || *to == "" {
			fs.Usage()
			return 2
		}
		st, err = Run(ctx, opts, Request{Table: *table, To: *to, Key: *key})
	}
	if err != nil {
		fmt.Fprintf(stderr, "shardgen move: %v\n", err)
		if errors.Is(err, ErrMoveFailed) && st.ID != 0 {
			fmt.Fprintf(stderr, "shardgen move: resume with -resume %d or undo with -abort %d\n", st.ID, st.ID)
		}
		return 1
	}
	fmt.Fprintf(stdout, "model move %d: table %s, database %s -> %s %s: %s\n", st.ID, st.Table, st.Source, kind(st), st.Target, st.Phase)
	if st.Phase == PhaseDone {
		how := fmt.Sprintf("in %d chunks", st.State.Chunks)
		if st.State.Group != "" {
			how = "one by one through the ID map"
		}
		fmt.Fprintf(stdout, "  copied %d rows (%.0f rows/s), %d logged rows copied again; verified %d rows %s; writes paused %s (fence to switch)\n",
			st.State.Copied, st.State.RowsPerSecond(), st.State.Resynced, st.State.Rows, how, st.State.Pause().Round(time.Millisecond))
		if st.State.Group != "" {
			fmt.Fprintf(stdout, "  every row got a new ID in the shard of its %s: %d old IDs mapped in table %s of the default database (modelmove.NewLegacyIDs)\n",
				st.State.Key, st.State.Mapped, MapTable(st.Table))
		}
		fmt.Fprintf(stdout, "  deploy the new version now: the running one's writes of %s fail with runtime.ErrTableMoved until then; the old table stays on %s, read-only, until -finish %d\n",
			st.Table, st.Source, st.ID)
	}
	return 0
}

func kind(st Status) string {
	if st.State.Group != "" {
		return "group"
	}
	return "database"
}

// progressPrinter prints one line per phase and one per second of copy.
func progressPrinter(w io.Writer) func(Progress) {
	last := ""
	return func(p Progress) {
		switch {
		case p.Phase == PhaseCopy && p.Rows > 0:
			of := ""
			if p.Total > p.Rows {
				of = fmt.Sprintf(" of about %d", p.Total)
			}
			fmt.Fprintf(w, "  copy: %d%s rows\n", p.Rows, of)
		case p.Phase == PhaseCatchup && p.Phase == last:
			if p.Log > 0 {
				fmt.Fprintf(w, "  catchup: %d keys logged\n", p.Log)
			}
		case p.Phase != last:
			fmt.Fprintf(w, "model move %d: %s (%s)\n", p.ID, p.Phase, p.Elapsed.Round(time.Millisecond))
		}
		last = p.Phase
	}
}

// PrintStatus writes a table of model moves.
func PrintStatus(w io.Writer, list []Status) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no model moves")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTABLE\tFROM\tTO\tPHASE\tUPDATED\tERROR")
	for _, s := range list {
		e := s.Error
		if len(e) > 80 {
			e = e[:77] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Table, s.Source, s.Target, s.Phase,
			s.Updated.UTC().Format("2006-01-02 15:04:05"), strings.ReplaceAll(e, "\n", " "))
	}
	tw.Flush()
}
