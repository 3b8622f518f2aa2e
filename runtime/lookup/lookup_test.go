package lookup

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestKeyAndHolds(t *testing.T) {
	fold := &Index{def: Def{Fold: true}}
	exact := &Index{def: Def{}}
	if k := fold.Key("Ann@Example.ORG"); k != "ann@example.org" {
		t.Errorf("folded Key = %v", k)
	}
	if !fold.Holds("ANN@example.org", "ann@EXAMPLE.org") || fold.Holds("ann@example.org", "bob@example.org") {
		t.Error("fold Holds compares without case, and only that")
	}
	if exact.Holds("Ann", "ann") || !exact.Holds("ann", "ann") {
		t.Error("Holds without fold is exact")
	}
	// Integers of every width are one key.
	if !exact.Holds(int16(7), int64(7)) || !exact.Holds(int32(7), int64(7)) || exact.Holds(int64(7), int64(8)) {
		t.Error("integer keys compare by value whatever their width")
	}
}

func TestDuplicateError(t *testing.T) {
	var err error = fmt.Errorf("insert app.User: %w", &DuplicateError{Model: "app.User", Field: "Email", Owner: 42})
	var dup *DuplicateError
	if !errors.Is(err, ErrDuplicate) || !errors.As(err, &dup) || dup.Field != "Email" || dup.Owner != 42 {
		t.Fatalf("errors.Is/As of %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "app.User.Email") || !strings.Contains(msg, "42") {
		t.Errorf("message %q should name the field and the owner", msg)
	}
}
