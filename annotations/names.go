package annotations

import (
	"go/token"
	"slices"
	"strings"

	"github.com/shardgen/shardgen/internal/editdist"
)

// IsSQLName reports whether s is a name shardgen accepts for a database,
// group, table or column: lowercase ASCII letters, digits and underscores, not
// starting with a digit (^[a-z_][a-z0-9_]*$). Such names never need case
// folding by PostgreSQL and are safe to quote; the 63-byte limit is checked by
// the validator, which knows the prefixes a name receives (shard schemas).
// The loader and validator apply the same rule to derived names.
func IsSQLName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// sqlNameRule is appended to messages about a bad SQL name so that the user
// learns the rule, not only that the name was refused.
const sqlNameRule = "names use lowercase letters, digits and underscores and do not start with a digit"

// isGoName reports whether s is a Go identifier (a struct or field name of
// the annotated package).
func isGoName(s string) bool { return token.IsIdentifier(s) }

// at returns pos moved off bytes to the right on the same line.
func at(pos token.Position, off int) token.Position {
	pos.Column += off
	pos.Offset += off
	return pos
}

// distance and closeEnough are the shared rule of internal/editdist.
var (
	distance    = editdist.Distance
	closeEnough = editdist.CloseEnough
)

// Closest returns the candidate closest to word, compared case-insensitively,
// or "" when none is close enough to be a plausible misspelling. Every
// "did you mean" of shardgen (parser, loader, validator, runtime) follows
// this one rule, internal/editdist's.
func Closest(word string, candidates []string) string { return editdist.Closest(word, candidates) }

// suggest is Closest for the parser's own keywords, which also suggests a
// candidate that is a prefix of word ("default,table=x", "groupblog"): the
// user forgot a space.
func suggest(word string, candidates []string) string {
	if best := Closest(word, candidates); best != "" {
		return best
	}
	lw := strings.ToLower(word)
	for _, c := range candidates {
		if len(lw) > len(c) && strings.HasPrefix(lw, c) {
			return c
		}
	}
	return ""
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// didYouMean formats the suggestion suffix of a message, or "" without one.
func didYouMean(s string) string {
	if s == "" {
		return ""
	}
	return "; did you mean " + s + "?"
}

// errs collects the errors of one line; every error is positioned relative to
// the start of the line (or tag).
type errs struct {
	base token.Position
	list []Error
}

// sorted returns the errors in the order they appear on the line.
func (e *errs) sorted() []Error {
	slices.SortStableFunc(e.list, func(a, b Error) int { return a.Pos.Offset - b.Pos.Offset })
	return e.list
}

func (e *errs) add(off int, msg string) {
	e.list = append(e.list, Error{Pos: at(e.base, off), Msg: msg})
}
