package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/shardgen/shardgen/examples/blog/blogdb"
	"github.com/shardgen/shardgen/runtime/shardredis"
)

// TimelineMax is how many posts the timeline keeps (the seed's MAX = 500).
const TimelineMax = 500

// timelineKey is the sorted set of the newest posts of all authors.
const timelineKey = "blog:timeline"

// Timeline is the Building to Scale seed's "views in Redis": the newest
// posts of all authors, as a Redis sorted set scored by creation time and
// trimmed to TimelineMax, fed when posts are inserted and read newest
// first. Posts of all authors span every shard, so the set is an aggregate
// and lives on a named, non-sharded connection (Redis in Action's
// get_expected); the posts themselves are read through the sharded cache.
type Timeline struct {
	srv *shardredis.Server
}

// NewTimeline uses the named connection "timeline" of rdb.
func NewTimeline(rdb *shardredis.Redis) (*Timeline, error) {
	srv, err := rdb.Named("timeline")
	if err != nil {
		return nil, err
	}
	return &Timeline{srv: srv}, nil
}

// Add puts posts on the timeline and trims it to TimelineMax, in one
// pipelined round trip (ZADD, then ZREMRANGEBYRANK of all but the newest).
func (t *Timeline) Add(ctx context.Context, posts ...*blogdb.Post) error {
	if len(posts) == 0 {
		return nil
	}
	cl, err := t.srv.Client()
	if err != nil {
		return err
	}
	add := cl.B().Zadd().Key(timelineKey).ScoreMember()
	for _, p := range posts {
		add = add.ScoreMember(float64(p.Created.UnixMilli()), strconv.FormatInt(p.ID, 10))
	}
	for _, res := range cl.DoMulti(ctx,
		add.Build(),
		cl.B().Zremrangebyrank().Key(timelineKey).Start(0).Stop(-(TimelineMax + 1)).Build(),
	) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("timeline add: %w", err)
		}
	}
	return nil
}

// Newest returns the IDs of the newest n posts, newest first (ZREVRANGE).
func (t *Timeline) Newest(ctx context.Context, n int) ([]blogdb.PostID, error) {
	cl, err := t.srv.Client()
	if err != nil {
		return nil, err
	}
	members, err := cl.Do(ctx, cl.B().Zrevrange().Key(timelineKey).Start(0).Stop(int64(n-1)).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("timeline read: %w", err)
	}
	ids := make([]blogdb.PostID, len(members))
	for i, m := range members {
		id, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("timeline member %q is not a post ID", m)
		}
		ids[i] = blogdb.PostID(id)
	}
	return ids, nil
}

// Len is the number of posts on the timeline (ZCARD).
func (t *Timeline) Len(ctx context.Context) (int64, error) {
	cl, err := t.srv.Client()
	if err != nil {
		return 0, err
	}
	return cl.Do(ctx, cl.B().Zcard().Key(timelineKey).Build()).AsInt64()
}

// Clear removes the timeline (the demo starts from an empty one).
func (t *Timeline) Clear(ctx context.Context) error {
	cl, err := t.srv.Client()
	if err != nil {
		return err
	}
	return cl.Do(ctx, cl.B().Del().Key(timelineKey).Build()).Error()
}
