package diag

import (
	"go/token"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrintSortsCountsAndRelativises(t *testing.T) {
	var l List
	pos := func(file string, line, col int) token.Position {
		return token.Position{Filename: "/src/app/" + file, Line: line, Column: col}
	}
	l.Errorf(pos("b.go", 3, 1), "second file")
	l.Warnf(pos("a.go", 9, 2), "a warning")
	l.Errorf(pos("a.go", 2, 7), "later column")
	l.Errorf(pos("a.go", 2, 5), "earlier column")
	l.Errorf(pos("a.go", 2, 5), "earlier column") // an exact duplicate is reported once
	l.Errorf(token.Position{}, "no position")

	if got, want := l.Errors(), 4; got != want {
		t.Errorf("Errors() = %d, want %d (warnings and exact duplicates do not count)", got, want)
	}
	var b strings.Builder
	l.Print(&b, "/src/app")
	want := `shardgen: no position
a.go:2:5: shardgen: earlier column
a.go:2:7: shardgen: later column
a.go:9:2: shardgen: warning: a warning
b.go:3:1: shardgen: second file
shardgen: 4 errors
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Print (-want +got):\n%s", diff)
	}
}

func TestPrintWarningsOnlyHasNoCount(t *testing.T) {
	var l List
	l.Warnf(token.Position{Filename: "m.go", Line: 1, Column: 1}, "unused")
	var b strings.Builder
	l.Print(&b, "")
	if got, want := b.String(), "m.go:1:1: shardgen: warning: unused\n"; got != want {
		t.Errorf("Print = %q, want %q", got, want)
	}
	if l.Errors() != 0 {
		t.Errorf("Errors() = %d, want 0", l.Errors())
	}
}

func TestPrintSingularCount(t *testing.T) {
	var l, other List
	other.Errorf(token.Position{Filename: "m.go", Line: 4, Column: 2}, "bad")
	l.Append(&other)
	var b strings.Builder
	l.Print(&b, "")
	if got, want := b.String(), "m.go:4:2: shardgen: bad\nshardgen: 1 error\n"; got != want {
		t.Errorf("Print = %q, want %q", got, want)
	}
}
