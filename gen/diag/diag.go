// Package diag collects positioned diagnostics the way a compiler does: every
// stage appends to one List, and the run reports them all at once, sorted.
package diag

import (
	"cmp"
	"fmt"
	"go/token"
	"io"
	"path/filepath"
	"slices"
)

// Severity says whether a diagnostic stops generation.
type Severity int

const (
	// Error stops generation: nothing is written when any error exists.
	Error Severity = iota
	// Warning is reported but does not stop generation.
	Warning
)

// Diagnostic is one positioned message.
type Diagnostic struct {
	Pos      token.Position
	Severity Severity
	Msg      string
}

// String formats the diagnostic like a compiler: "file:line:col: shardgen: msg".
// Warnings say so after the tool name.
func (d Diagnostic) String() string { return d.format(d.Pos.Filename) }

func (d Diagnostic) format(file string) string {
	kind := ""
	if d.Severity == Warning {
		kind = "warning: "
	}
	loc := file
	if d.Pos.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", file, d.Pos.Line, d.Pos.Column)
	}
	if loc == "" {
		return fmt.Sprintf("shardgen: %s%s", kind, d.Msg)
	}
	return fmt.Sprintf("%s: shardgen: %s%s", loc, kind, d.Msg)
}

// List accumulates diagnostics. The zero value is ready to use.
type List struct {
	items []Diagnostic
}

// Errorf records an error at pos.
func (l *List) Errorf(pos token.Position, format string, args ...any) {
	l.items = append(l.items, Diagnostic{Pos: pos, Severity: Error, Msg: fmt.Sprintf(format, args...)})
}

// Warnf records a warning at pos.
func (l *List) Warnf(pos token.Position, format string, args ...any) {
	l.items = append(l.items, Diagnostic{Pos: pos, Severity: Warning, Msg: fmt.Sprintf(format, args...)})
}

// Add records d.
func (l *List) Add(d Diagnostic) { l.items = append(l.items, d) }

// Append records every diagnostic of other.
func (l *List) Append(other *List) { l.items = append(l.items, other.items...) }

// Errors reports how many distinct errors (not warnings) were recorded: the
// number Print reports.
func (l *List) Errors() int {
	n := 0
	for _, d := range l.Items() {
		if d.Severity == Error {
			n++
		}
	}
	return n
}

// Items returns the diagnostics sorted by file, line, column, then message,
// so that output is deterministic whatever order the stages ran in.
// Exact duplicates are dropped.
func (l *List) Items() []Diagnostic {
	out := slices.Clone(l.items)
	slices.SortStableFunc(out, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.Filename, b.Pos.Filename),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
	return slices.Compact(out)
}

// Print writes every diagnostic, one a line, with file names relative to dir
// when dir is not empty, followed by a count line when there are errors.
func (l *List) Print(w io.Writer, dir string) {
	items := l.Items()
	errs := 0
	for _, d := range items {
		file := d.Pos.Filename
		if dir != "" && file != "" {
			if rel, err := filepath.Rel(dir, file); err == nil {
				file = rel
			}
		}
		fmt.Fprintln(w, d.format(file))
		if d.Severity == Error {
			errs++
		}
	}
	switch errs {
	case 0:
	case 1:
		fmt.Fprintln(w, "shardgen: 1 error")
	default:
		fmt.Fprintf(w, "shardgen: %d errors\n", errs)
	}
}
