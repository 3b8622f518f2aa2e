// Package editdist is the one edit distance and "did you mean" rule of
// shardgen, shared by the annotation parser, the generator and the runtime
// (standard library only, so the runtime may import it).
package editdist

import "strings"

// Distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent bytes
// each cost 1, so that "defualt" is one edit away from "default".
func Distance(a, b string) int {
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

// CloseEnough is how many edits a misspelling of candidate may have and
// still be suggested: short words tolerate fewer edits, or every two-letter
// typo would "mean" pk.
func CloseEnough(candidate string) int {
	switch n := len(candidate); {
	case n <= 3:
		return 1
	case n <= 6:
		return 2
	default:
		return 3
	}
}

// Closest returns the candidate closest to word, compared
// case-insensitively, or "" when none is close enough (CloseEnough) to be a
// plausible misspelling. The first of equally close candidates wins.
func Closest(word string, candidates []string) string {
	lw := strings.ToLower(word)
	best, bestD := "", -1
	for _, c := range candidates {
		d := Distance(lw, strings.ToLower(c))
		if d <= CloseEnough(c) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}
