package editdist

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"default", "default", 0},
		{"defualt", "default", 1}, // a transposition is one edit
		{"analytcs", "analytics", 1}, {"kitten", "sitting", 3},
		{"SHARDGEN_DATABSE_DEFAULT_URL", "SHARDGEN_DATABASE_DEFAULT_URL", 1},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"pk", "unique", "index", "analytics"}
	for word, want := range map[string]string{
		"pj":       "pk", // one edit from a short word
		"px":       "pk",
		"xy":       "", // two edits from "pk": too far for a 2-letter word
		"UNIQEU":   "unique",
		"analytcs": "analytics",
		"nothing":  "",
	} {
		if got := Closest(word, cands); got != want {
			t.Errorf("Closest(%q) = %q, want %q", word, got, want)
		}
	}
}
