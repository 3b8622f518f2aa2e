package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardgen/shardgen/examples/blog/blogdb"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/move"
	"github.com/shardgen/shardgen/runtime/pgtest"
	"github.com/shardgen/shardgen/runtime/placement"
)

// logicalSettings are what a move needs of its servers (see runtime/move).
var logicalSettings = map[string]string{"wal_level": "logical", "max_replication_slots": "10", "max_wal_senders": "10"}

// GrowResult is what the growing demo wrote and where it ended up.
type GrowResult struct {
	Move    move.Status
	Written []blogdb.PostID // posts written while the shards moved
	Before  map[string]int64
	After   map[string]int64
}

// Grow is the "Growing onto a new server" demo: on the demo's data, it
// follows the placement table, keeps writing posts from four writers, and
// moves logical shards 12-15 of group blog from server b to server c (a
// third server, already in cfg with no shards), printing the posts per
// server before and after. Every post written during the move must be
// readable by its ID afterwards.
func Grow(ctx context.Context, p *printer, cfg runtime.Config) (*GrowResult, error) {
	r, err := runtime.Open(ctx, cfg, blogdb.Spec)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fo, err := placement.Follow(ctx, r, cfg.Databases["default"], placement.Options{})
	if err != nil {
		return nil, err
	}
	defer fo.Close()
	db, err := blogdb.New(r)
	if err != nil {
		return nil, err
	}
	g, _ := r.Group("blog")
	res := &GrowResult{}
	p.section("Growing onto a new server: moving shards 12-15 of group blog from b to c while writing")
	if res.Before, err = postsPerServer(ctx, g, db); err != nil {
		return nil, err
	}
	p.linef("posts per server before: %s", perServer(g, res.Before))

	var (
		mu      sync.Mutex
		stop    atomic.Bool
		werr    error
		wg      sync.WaitGroup
		maxLat  time.Duration
		authors []int64
	)
	// Eight authors (user IDs as plain values: posts are sharded by
	// author), whose posts land on every server.
	for a := int64(1); len(authors) < 8; a++ {
		authors = append(authors, a*7919)
	}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				post := &blogdb.Post{AuthorID: authors[(w+i)%len(authors)], Title: fmt.Sprintf("written during the move #%d.%d", w, i), Body: "still writing", Created: time.Now().UTC()}
				start := time.Now()
				id, err := db.Posts.Insert(ctx, post)
				el := time.Since(start)
				mu.Lock()
				if err != nil && werr == nil {
					werr = err
				}
				if err == nil {
					res.Written = append(res.Written, id)
				}
				maxLat = max(maxLat, el)
				mu.Unlock()
				if err != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	opts := move.Options{Config: cfg, Spec: blogdb.Spec}
	last := ""
	opts.Progress = func(pr move.Progress) {
		if pr.Phase != last {
			p.linef("  %-9s %6s", pr.Phase, pr.Elapsed.Round(time.Millisecond))
			last = pr.Phase
		}
	}
	time.Sleep(300 * time.Millisecond)
	st, err := move.Run(ctx, opts, move.Request{Group: "blog", Shards: runtime.ShardRange{First: 12, Last: 15}, To: "c"})
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, fmt.Errorf("a writer failed during the move: %w", werr)
	}
	res.Move = st
	p.linef("move %d done: %d rows verified, fence to switch %s; %d posts written meanwhile, slowest write %s",
		st.ID, st.State.Rows, st.State.SwitchAt.Sub(st.State.FencedAt).Round(time.Millisecond), len(res.Written), maxLat.Round(time.Millisecond))
	for _, id := range res.Written {
		if _, err := db.Posts.Get(ctx, id); err != nil {
			return nil, fmt.Errorf("post %d written during the move: %w", id, err)
		}
	}
	p.linef("every post written during the move reads back by its ID")
	if res.After, err = postsPerServer(ctx, g, db); err != nil {
		return nil, err
	}
	p.linef("posts per server after:  %s", perServer(g, res.After))
	if _, err := move.Finish(ctx, opts, st.ID); err != nil {
		return nil, err
	}
	p.linef("move %d finished: the old copy of shards 12-15 is dropped from b", st.ID)
	return res, nil
}

// postsPerServer counts posts per physical server (explicit fan-out).
func postsPerServer(ctx context.Context, g *runtime.Group, db *blogdb.DB) (map[string]int64, error) {
	q := g.Prepare("SELECT count(*) FROM @schema@.posts")
	out := map[string]int64{}
	for s := range runtime.Shard(g.Shards()) {
		var n int64
		if err := g.At(s).QueryRow(ctx, q).Scan(&n); err != nil {
			return nil, err
		}
		out[g.ServerOf(s).Name()] += n
	}
	return out, nil
}

func perServer(g *runtime.Group, m map[string]int64) string {
	s := ""
	for _, srv := range g.Servers() {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s (shards %s) %d", srv.Name(), g.ShardsOn(srv), m[srv.Name()])
	}
	return s
}

// startThird starts the third throwaway server (c) and adds it to cfg
// with no shards.
func startThird(ctx context.Context, p *printer, opts pgtest.Options, cfg *runtime.Config) (*pgtest.Server, error) {
	var c *pgtest.Server
	err := p.step("start a third throwaway server c (no shards yet) and add it to the config", func() error {
		servers, err := pgtest.StartServers(ctx, 1, opts)
		if err != nil {
			return err
		}
		c = servers[0]
		if err := c.CreateDatabase(ctx, dbBlog); err != nil {
			return errors.Join(err, c.Close())
		}
		cfg.Groups["blog"] = append(cfg.Groups["blog"], runtime.ServerConfig{Name: "c", URL: c.URL(dbBlog)})
		return nil
	})
	return c, err
}
