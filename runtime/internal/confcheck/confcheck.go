// Package confcheck holds the configuration checks that the runtime and the
// packages beside it (runtime/shardredis) share, so that their configuration
// reads and fails the same way without those helpers being part of the
// runtime's public API.
package confcheck

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shardgen/shardgen/internal/editdist"
)

// Suggest returns "; did you mean \"x\"?" for the known name closest to
// name (see editdist.Closest), or "; the Spec declares: a, b" otherwise:
// the tail of every configuration error about an unknown name.
func Suggest(name string, known []string) string {
	if best := editdist.Closest(name, known); best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	if len(known) == 0 {
		return "; the Spec declares none"
	}
	return "; the Spec declares: " + strings.Join(known, ", ")
}

// Range is one server's inclusive range of logical shards.
type Range struct {
	Name        string
	First, Last int
}

// FormatRange writes an inclusive shard range as runtime.ShardRange.String
// does: "none" when empty, "7" for one shard, "0-2047" otherwise.
func FormatRange(first, last int) string {
	if last < first {
		return "none"
	}
	if first == last {
		return strconv.Itoa(first)
	}
	return strconv.Itoa(first) + "-" + strconv.Itoa(last)
}

// Coverage returns, as complete sentences prefixed with owner
// (`group "blog"`), every place where ranges leave one of the shards
// [0, shards) unmapped or map it twice.
func Coverage(owner string, ranges []Range, shards int) []string {
	var out []string
	sorted := append([]Range(nil), ranges...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].First < sorted[j].First })
	next := 0 // first shard not yet covered
	var prev *Range
	for i := range sorted {
		s := &sorted[i]
		if s.First > next {
			out = append(out, fmt.Sprintf("%s: shards %s are not mapped to any server", owner, FormatRange(next, s.First-1)))
		}
		if prev != nil && s.First <= prev.Last {
			out = append(out, fmt.Sprintf("%s: servers %q and %q both claim shards %s", owner, prev.Name, s.Name, FormatRange(s.First, min(s.Last, prev.Last))))
		}
		if s.Last+1 > next {
			next = s.Last + 1
			prev = s
		}
	}
	if next < shards {
		out = append(out, fmt.Sprintf("%s: shards %s are not mapped to any server", owner, FormatRange(next, shards-1)))
	}
	return out
}

// Expand replaces ${NAME} with lookup(NAME) in a configuration value and
// returns the problems found, each naming where (the config key) and the
// variable, never a value. Only the ${...} form is recognised, so a '$'
// inside a password needs no escaping. In a postgres:// URL the value is
// percent-encoded (every byte but letters, digits and -._~), so a password
// with / # ? @ : or % lands in the password and nowhere else. In a
// keyword=value DSN a value with a space, quote or backslash is refused: it
// would need quoting there. A nil lookup leaves s as it is.
func Expand(s string, lookup func(string) (string, bool), where string) (string, []string) {
	if lookup == nil {
		return s, nil
	}
	var problems []string
	isURL := strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), problems
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), problems
		}
		name := s[i+2 : i+2+j]
		v, ok := lookup(name)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: environment variable %s is not set", where, name))
		}
		b.WriteString(s[:i])
		switch {
		case isURL:
			b.WriteString(escapeURLValue(v))
		case strings.ContainsAny(v, " \t\n\r'\\"):
			problems = append(problems, fmt.Sprintf("%s: the value of %s has a space, quote or backslash, which a keyword=value connection string would need quoted; use a postgres:// URL (values substituted there are percent-encoded)", where, name))
		default:
			b.WriteString(v)
		}
		s = s[i+2+j+1:]
	}
}

// escapeURLValue percent-encodes every byte of v but the unreserved ones.
func escapeURLValue(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
