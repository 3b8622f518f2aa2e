package validate

import "github.com/shardgen/shardgen/annotations"

// didYouMean returns " (did you mean X?)" for the candidate closest to word,
// or "" when no candidate is a plausible misspelling; the closeness rule is
// the annotations parser's, so every hint of a run agrees.
func didYouMean(word string, candidates []string) string {
	best := annotations.Closest(word, candidates)
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}
