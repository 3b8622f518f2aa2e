package validate

import "strings"

// didYouMean returns "; did you mean X?" for the candidate closest to word
// (case-insensitively), or "" when no candidate is a plausible misspelling.
func didYouMean(word string, candidates []string) string {
	lw := strings.ToLower(word)
	best, bestD := "", -1
	for _, c := range candidates {
		d := distance(lw, strings.ToLower(c))
		if d <= tolerance(c) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// tolerance is how many edits a misspelling of candidate may have: short
// names tolerate fewer, or every two-letter name would match.
func tolerance(candidate string) int {
	switch n := len(candidate); {
	case n <= 3:
		return 1
	case n <= 6:
		return 2
	default:
		return 3
	}
}

// distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent bytes
// each cost 1 ("analytcs" is one edit from "analytics").
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
