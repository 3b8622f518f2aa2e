package main

import (
	"context"
	"fmt"

	"github.com/shardgen/shardgen/runtime"
)

// backfill is the job the seed's add_everything is: visit every post of
// every shard in chunks, here to count the words of their titles. The job
// is interrupted halfway (it breaks out of the loop, as a deploy would stop
// it), keeps the cursor a real job would persist (shard and last ID), and
// resumes from it: the post it stopped at comes again (at least once), every
// other post once.
func (d *demo) backfill(ctx context.Context) error {
	d.p.section("Backfill: every post, streamed shard by shard (Posts.StreamAllShards)")
	opts := runtime.StreamOptions{Chunk: 4, Parallel: 2}
	var p runtime.StreamProgress
	opts.Progress = &p
	seen := map[int64]int{}
	stopAt := int(d.res.TotalPosts / 2)
	for post, err := range d.db.Posts.StreamAllShards(ctx, opts) {
		if err != nil {
			return err
		}
		if len(seen) == stopAt {
			break // interrupted; p.Cursor is what the job saves
		}
		seen[post.ID]++
	}
	cursor := p.Cursor
	d.p.linef("interrupted after %d posts, %d of %d shards done; saved cursor: shard %d, after ID %d", p.Rows, p.ShardsDone, p.Shards, cursor.Shard, cursor.After)
	opts.From = cursor
	p = runtime.StreamProgress{}
	for post, err := range d.db.Posts.StreamAllShards(ctx, opts) {
		if err != nil {
			return err
		}
		seen[post.ID]++
	}
	d.p.linef("resumed from the cursor: %d more posts, %d of %d shards done", p.Rows, p.ShardsDone, p.Shards)
	d.res.Streamed = int64(len(seen))
	for id, n := range seen {
		if n > 1 {
			return fmt.Errorf("backfill saw post %d %d times", id, n)
		}
	}
	if d.res.Streamed != d.res.TotalPosts {
		return fmt.Errorf("backfill visited %d posts, CountAllShards says %d", d.res.Streamed, d.res.TotalPosts)
	}
	return nil
}
