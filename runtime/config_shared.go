// Helpers of the configuration that packages beside the runtime (shardredis)
// use too, so their configuration reads and fails the same way.

package runtime

import (
	"fmt"
	"sort"
)

// NamedRange is one server's range of logical shards, as CheckShardCoverage
// takes it.
type NamedRange struct {
	Name  string
	Range ShardRange
}

// CheckShardCoverage returns, as complete sentences prefixed with owner
// (`group "blog"`), every place where ranges leave one of the shards
// [0, shards) unmapped or map it twice. It is how Config checks a group's
// database servers; packages beside the runtime (shardredis) check their
// servers of the same group with it, so the same mistakes read the same.
func CheckShardCoverage(owner string, ranges []NamedRange, shards int) []string {
	var out []string
	sorted := append([]NamedRange(nil), ranges...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Range.First < sorted[j].Range.First })
	next := Shard(0) // first shard not yet covered
	var prev *NamedRange
	for i := range sorted {
		s := &sorted[i]
		if s.Range.First > next {
			out = append(out, fmt.Sprintf("%s: shards %s are not mapped to any server", owner, ShardRange{next, s.Range.First - 1}))
		}
		if prev != nil && s.Range.First <= prev.Range.Last {
			ov := ShardRange{s.Range.First, min(s.Range.Last, prev.Range.Last)}
			out = append(out, fmt.Sprintf("%s: servers %q and %q both claim shards %s", owner, prev.Name, s.Name, ov))
		}
		if s.Range.Last+1 > next {
			next = s.Range.Last + 1
			prev = s
		}
	}
	if int(next) < shards {
		out = append(out, fmt.Sprintf("%s: shards %s are not mapped to any server", owner, ShardRange{next, Shard(shards - 1)}))
	}
	return out
}

// Suggest returns "; did you mean \"x\"?" for the known name closest to
// name (within edit distance 2), or "; the Spec declares: a, b" otherwise:
// the tail the runtime's own configuration errors use for unknown names.
func Suggest(name string, known []string) string { return suggest(name, known) }
