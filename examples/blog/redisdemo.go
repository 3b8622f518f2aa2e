package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shardgen/shardgen/examples/blog/blogdb"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/shardredis"
)

// RedisResult is what the Redis part of the demo wrote and read, for the
// tests to check.
type RedisResult struct {
	// Published are the posts fed to the timeline, oldest first;
	// TimelineLen is its size afterwards and Newest its first page.
	Published   []blogdb.PostID
	TimelineLen int64
	Newest      []blogdb.PostID
	// Counted is the post whose views were counted, Increments how many
	// were made, StoredBefore and StoredAfter its column before and after
	// the flush, Pending the read before the flush, Flush the flush's stats.
	Counted                   blogdb.PostID
	Increments                int64
	StoredBefore, StoredAfter int64
	Pending                   int64
	Flush                     shardredis.FlushStats
	// Cached is the title a cached Get served after the row was changed
	// behind the cache's back; Fresh and TxFresh the titles served after an
	// Update and an Update in a shard transaction.
	Cached, Fresh, TxFresh string
}

// RedisDemo runs the Redis features of the blog (runtime/shardredis) on the
// databases of cfg and the Redis servers of rcfg: the timeline of the newest
// posts of all authors, post views counted in Redis and flushed as one
// UPDATE per post, and posts read through the cache and invalidated by
// writes. authors are the users who write the timeline's posts.
func RedisDemo(ctx context.Context, p *printer, cfg runtime.Config, rcfg shardredis.Config, authors []blogdb.UserID) (*RedisResult, error) {
	r, err := runtime.Open(ctx, cfg, blogdb.Spec)
	if err != nil {
		return nil, fmt.Errorf("opening the router: %w", err)
	}
	defer r.Close()
	db, err := blogdb.New(r)
	if err != nil {
		return nil, err
	}
	rdb, err := shardredis.Open(rcfg, blogdb.Spec)
	if err != nil {
		return nil, err
	}
	defer rdb.Close()
	red, err := blogdb.NewRedis(db, rdb)
	if err != nil {
		return nil, err
	}
	tl, err := NewTimeline(rdb)
	if err != nil {
		return nil, err
	}
	rg, err := rdb.Group("blog")
	if err != nil {
		return nil, err
	}
	d := &redisDemo{p: p, r: r, db: db, red: red, tl: tl, res: &RedisResult{}}
	p.section("Redis beside the shards (runtime/shardredis)")
	for _, s := range rg.Servers() {
		p.linef("group blog shards %-5s -> redis %s %s", s.ShardRange(), s.Name(), s.Addr())
	}
	if s, err := rdb.Named("timeline"); err == nil {
		p.linef("named connection timeline -> redis %s (not sharded: the timeline spans every shard)", s.Addr())
	}
	for _, step := range []func(context.Context, []blogdb.UserID) error{d.timeline, d.views, d.cache} {
		if err := step(ctx, authors); err != nil {
			return nil, err
		}
	}
	return d.res, nil
}

type redisDemo struct {
	p   *printer
	r   *runtime.Router
	db  *blogdb.DB
	red *blogdb.Redis
	tl  *Timeline
	res *RedisResult
}

// timeline publishes more posts than the timeline keeps, feeding it as they
// are inserted, and reads its newest page through the cache.
func (d *redisDemo) timeline(ctx context.Context, authors []blogdb.UserID) error {
	d.p.section(fmt.Sprintf("Timeline: the newest posts of all authors, a sorted set trimmed to %d", TimelineMax))
	if len(authors) == 0 {
		return errors.New("the timeline needs authors")
	}
	if err := d.tl.Clear(ctx); err != nil {
		return err
	}
	const n = TimelineMax + 20
	base := time.Now().UTC().Truncate(time.Millisecond).Add(-n * time.Millisecond)
	err := d.p.step(fmt.Sprintf("publish %d posts (InsertMany, 50 a batch), each batch fed to the timeline in one pipeline", n), func() error {
		for start := 0; start < n; start += 50 {
			var batch []*blogdb.Post
			for i := start; i < min(start+50, n); i++ {
				batch = append(batch, &blogdb.Post{
					AuthorID: int64(authors[i%len(authors)]),
					Title:    fmt.Sprintf("timeline post %d", i),
					Created:  base.Add(time.Duration(i) * time.Millisecond),
				})
			}
			if err := d.db.Posts.InsertMany(ctx, batch); err != nil {
				return err
			}
			if err := d.tl.Add(ctx, batch...); err != nil {
				return err
			}
			for _, p := range batch {
				d.res.Published = append(d.res.Published, blogdb.PostID(p.ID))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if d.res.TimelineLen, err = d.tl.Len(ctx); err != nil {
		return err
	}
	if d.res.TimelineLen != TimelineMax {
		return fmt.Errorf("timeline holds %d posts, want %d", d.res.TimelineLen, TimelineMax)
	}
	d.p.linef("ZCARD %s = %d: the %d oldest of %d were trimmed", timelineKey, d.res.TimelineLen, n-TimelineMax, n)
	if d.res.Newest, err = d.tl.Newest(ctx, 5); err != nil {
		return err
	}
	posts, err := d.red.Posts.GetMany(ctx, d.res.Newest)
	if err != nil {
		return err
	}
	d.p.linef("newest first (ZREVRANGE, then PostRedis.GetMany: one MGET per Redis server, misses from the shards):")
	for i, p := range posts {
		want := d.res.Published[len(d.res.Published)-1-i]
		if p == nil || d.res.Newest[i] != want {
			return fmt.Errorf("timeline position %d: %v, want post %d", i, d.res.Newest[i], want)
		}
		d.p.linef("  %d  %-18s by user %d, shard %d", p.ID, p.Title, p.AuthorID, blogdb.PostID(p.ID).Shard())
	}
	return nil
}

// views counts views of the newest post from concurrent readers, shows the
// pending sum, flushes and reads the column back; then lets the interval
// flusher do it.
func (d *redisDemo) views(ctx context.Context, _ []blogdb.UserID) error {
	d.p.section("Views: counted in Redis, flushed as one UPDATE per post")
	id := d.res.Newest[0]
	d.res.Counted = id
	const readers, each = 8, 50
	err := d.p.step(fmt.Sprintf("%d readers view post %d %d times each (PostRedis.AddViews: one HINCRBY each)", readers, id, each), func() error {
		var wg sync.WaitGroup
		errs := make([]error, readers)
		for i := range readers {
			wg.Go(func() {
				for range each {
					if err := d.red.Posts.AddViews(ctx, id, 1); err != nil {
						errs[i] = err
						return
					}
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil {
		return err
	}
	d.res.Increments = readers * each
	stored, err := d.db.Posts.Get(ctx, id)
	if err != nil {
		return err
	}
	d.res.StoredBefore = stored.Views
	if d.res.Pending, err = d.red.Posts.Views(ctx, id); err != nil {
		return err
	}
	d.p.linef("column views = %d, PostRedis.Views = %d (stored + pending in Redis)", d.res.StoredBefore, d.res.Pending)
	if d.res.Pending != d.res.StoredBefore+d.res.Increments {
		return fmt.Errorf("Views read %d, want %d", d.res.Pending, d.res.StoredBefore+d.res.Increments)
	}
	if d.res.Flush, err = d.red.BlogCounters.Flush(ctx); err != nil {
		return err
	}
	if stored, err = d.db.Posts.Get(ctx, id); err != nil {
		return err
	}
	d.res.StoredAfter = stored.Views
	d.p.linef("BlogCounters.Flush: %d statement(s), %d row(s) updated once each for %d increments; column views = %d",
		d.res.Flush.Statements, d.res.Flush.Rows, d.res.Increments, d.res.StoredAfter)
	if d.res.StoredAfter != d.res.Pending {
		return fmt.Errorf("after the flush the column holds %d, want %d", d.res.StoredAfter, d.res.Pending)
	}

	// The usual way: a flusher on an interval, here in this process.
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { d.red.BlogCounters.Run(runCtx, 100*time.Millisecond, nil) })
	defer func() { stop(); wg.Wait() }()
	for range 10 {
		if err := d.red.Posts.AddViews(ctx, id, 1); err != nil {
			return err
		}
	}
	want := d.res.StoredAfter + 10
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := d.db.Posts.Get(ctx, id)
		if err != nil {
			return err
		}
		if p.Views == want {
			d.p.linef("BlogCounters.Run every 100ms: 10 more views reached the column (views = %d)", p.Views)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the interval flusher did not bring views to %d (still %d)", want, p.Views)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cache reads a post through the cache, changes the row behind the cache's
// back (served stale: it comes from Redis), then updates it through the
// repository (served fresh), also in a shard transaction.
func (d *redisDemo) cache(ctx context.Context, _ []blogdb.UserID) error {
	d.p.section("Cache: read-through, invalidated after every committed write")
	id := d.res.Newest[1]
	if _, err := d.red.Posts.Get(ctx, id); err != nil { // a miss: read and cached
		return err
	}
	// Raw SQL bypasses the generated repository, so nothing invalidates:
	// the next Get is a hit, the old title, which shows it came from Redis.
	blog, err := d.r.Group("blog")
	if err != nil {
		return err
	}
	shard, err := blog.ShardOfID(int64(id))
	if err != nil {
		return err
	}
	if _, err := blog.At(shard).Exec(ctx, blog.Prepare(`UPDATE @schema@.posts SET title = $2 WHERE id = $1`), int64(id), "changed by raw SQL"); err != nil {
		return err
	}
	p, err := d.red.Posts.Get(ctx, id)
	if err != nil {
		return err
	}
	d.res.Cached = p.Title
	d.p.linef("PostRedis.Get(%d) after a raw UPDATE the cache cannot see: %q (a hit, from Redis)", id, p.Title)
	// (Raw SQL of your own must call d.red.Posts.Invalidate once committed;
	// here the stale read is the point.) The generated Update invalidates
	// by itself:
	p.Title = "updated through Posts.Update"
	if err := d.db.Posts.Update(ctx, p); err != nil {
		return err
	}
	if p, err = d.red.Posts.Get(ctx, id); err != nil {
		return err
	}
	d.res.Fresh = p.Title
	d.p.linef("Posts.Update, then PostRedis.Get: %q (invalidated after the write)", p.Title)
	err = d.db.InBlogShard(ctx, blogdb.BlogKey(p.AuthorID), func(tx *blogdb.BlogTx) error {
		p.Title = "updated in a shard transaction"
		return tx.Posts().Update(ctx, p)
	})
	if err != nil {
		return err
	}
	if p, err = d.red.Posts.Get(ctx, id); err != nil {
		return err
	}
	d.res.TxFresh = p.Title
	d.p.linef("tx.Posts().Update in InBlogShard, then PostRedis.Get: %q (invalidated after the COMMIT)", p.Title)
	if d.res.Fresh != "updated through Posts.Update" || d.res.TxFresh != "updated in a shard transaction" {
		return fmt.Errorf("the cache served %q and %q after the writes", d.res.Fresh, d.res.TxFresh)
	}
	return nil
}
