package annotations

import (
	"go/token"
	"slices"
	"strings"
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

// distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent bytes
// each cost 1, so that "defualt" is one edit away from "default".
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// closeEnough is how many edits a misspelling of candidate may have and still
// be suggested: short words tolerate fewer edits, or every two-letter typo
// would "mean" pk.
func closeEnough(candidate string) int {
	switch n := len(candidate); {
	case n <= 3:
		return 1
	case n <= 6:
		return 2
	default:
		return 3
	}
}

// Closest returns the candidate closest to word, compared case-insensitively,
// or "" when none is close enough to be a plausible misspelling. Every
// "did you mean" of shardgen (parser, loader, validator) uses it, so that
// all hints follow one rule.
func Closest(word string, candidates []string) string {
	lw := strings.ToLower(word)
	best, bestD := "", -1
	for _, c := range candidates {
		d := distance(lw, strings.ToLower(c))
		if d <= closeEnough(c) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

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
