package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardgen/shardgen/runtime/pgtest"
)

// TestPerShardTwoServers runs one statement per shard, each with its own
// arguments, on shards of both servers; a shard outside the group and a
// shard whose table is missing fail on their own, and each is told which
// shard answered.
func TestPerShardTwoServers(t *testing.T) {
	_, urls := pgtest.NewDatabase(t, 2, "per")
	const shards = 16
	spec := Spec{Groups: []GroupSpec{{Name: "blog", Shards: shards}}}
	r := openSplit(t, spec, urls, PoolConfig{MaxConns: 2, AcquireTimeout: 5 * time.Second})
	g, err := r.Group("blog")
	if err != nil {
		t.Fatal(err)
	}
	createShardTables(t, g, distinctCounts)
	ctx := context.Background()
	q := g.Prepare("SELECT id FROM @schema@.items WHERE id = ANY($1) ORDER BY id")
	// Shard s holds ids 1..s+1: ask each shard for ids it has and one it
	// lacks.
	calls := []ShardCall{
		{Shard: 3, Args: []any{[]int64{1, 4, 99}}},
		{Shard: 12, Args: []any{[]int64{13, 2}}},
		{Shard: 0, Args: []any{[]int64{1, 2}}},
		{Shard: 40, Args: []any{[]int64{1}}}, // outside the group
		{Shard: 9, Args: []any{[]int64{10}}},
	}
	got := map[Shard][]int64{}
	err = g.PerShard(ctx, q, calls, func(s Shard, rows pgx.Rows) error {
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			got[s] = append(got[s], id)
		}
		return rows.Err()
	})
	if fs := failedShards(err); !slices.Equal(fs, []Shard{40}) || !errors.Is(err, ErrWrongShard) {
		t.Fatalf("PerShard error = %v, want shard 40 failed with ErrWrongShard", err)
	}
	want := map[Shard][]int64{3: {1, 4}, 12: {2, 13}, 0: {1}, 9: {10}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PerShard rows = %v, want %v", got, want)
	}

	// A shard whose table is missing fails on its own; the other server's
	// shards still answer.
	if _, err := g.At(2).Exec(ctx, g.Prepare("DROP TABLE @schema@.items")); err != nil {
		t.Fatal(err)
	}
	got = map[Shard][]int64{}
	err = g.PerShard(ctx, q, []ShardCall{{Shard: 2, Args: []any{[]int64{1}}}, {Shard: 9, Args: []any{[]int64{1, 10}}}},
		func(s Shard, rows pgx.Rows) error {
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					return err
				}
				got[s] = append(got[s], id)
			}
			return rows.Err()
		})
	if fs := failedShards(err); !slices.Equal(fs, []Shard{2}) || !errors.Is(err, ErrNotMigrated) {
		t.Errorf("PerShard with shard 2's table dropped: %v, want shard 2 failed with ErrNotMigrated", err)
	}
	if fmt.Sprint(got) != fmt.Sprint(map[Shard][]int64{9: {1, 10}}) {
		t.Errorf("PerShard rows with shard 2 failing = %v, want shard 9's", got)
	}

	// A query of another group is refused before anything runs.
	other := &Group{name: "other"}
	if err := other.PerShard(ctx, q, calls, nil); !errors.Is(err, ErrWrongShard) {
		t.Errorf("PerShard with another group's query = %v, want ErrWrongShard", err)
	}
}
