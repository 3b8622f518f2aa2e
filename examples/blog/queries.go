package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/shardgen/shardgen/examples/blog/blogdb"
)

// customQueries runs the blog's own SQL (blogdb/queries/*/*.sql), which
// shardgen type-checked with sqlc against the tables of the one database or
// group each query runs on: a join of posts and comments inside alice's
// shard, the newest posts of every shard through the fan-out form the query
// asked for, and an aggregate on the analytics database.
func (d *demo) customQueries(ctx context.Context) error {
	d.p.section("Custom SQL, checked by sqlc against the schema it runs on")
	alice := d.users[0]
	var alicePosts []int64
	for _, post := range d.posts {
		if post.AuthorID == alice.ID {
			alicePosts = append(alicePosts, post.ID)
		}
	}
	// Two more comments on alice's last post, so that it leads the ranking.
	hot := alicePosts[len(alicePosts)-1]
	for i := range 2 {
		c := &blogdb.Comment{PostID: hot, PostAuthorID: alice.ID, CommenterID: d.users[1+i].ID, Body: "Sharding rocks!", Created: d.posts[0].Created}
		id, err := d.db.Comments.Insert(ctx, c)
		if err != nil {
			return err
		}
		d.comments = append(d.comments, c)
		d.res.Comments = append(d.res.Comments, id)
	}

	// Routed by alice's key, the query's own author_id parameter (it pins
	// the shard key, so there is no second shard argument to disagree
	// with it): one round trip to her shard, joined there. The IDs come
	// back typed (blogdb.PostID).
	top, err := d.db.BlogQueries.MostCommented(ctx, blogdb.BlogKey(alice.ID), 3)
	if err != nil {
		return err
	}
	if len(top) != 3 || top[0].ID != blogdb.PostID(hot) || top[0].Comments != 3 {
		return fmt.Errorf("MostCommented(alice) = %+v, want post %d first with 3 comments", top, hot)
	}
	for _, row := range top {
		if !slices.Contains(alicePosts, int64(row.ID)) {
			return fmt.Errorf("MostCommented(alice) returned post %d, which is not alice's", row.ID)
		}
	}
	d.p.linef("BlogQueries.MostCommented(alice, top 3), on shard %d only:", d.blog.ShardOfInt64(alice.ID))
	for _, row := range top {
		d.p.linef("  %q (comments: %d)", row.Title, row.Comments)
	}

	// The same kind of query, marked -- shardgen:fanout: every shard.
	newest, err := d.db.BlogQueries.NewestPostsAllShards(ctx, 1)
	if err != nil {
		return err
	}
	shards := map[int]bool{}
	for _, row := range newest {
		shards[int(row.ID.Shard())] = true
	}
	if len(newest) != len(shards) || len(shards) < 2 {
		return fmt.Errorf("NewestPostsAllShards(1) returned %d rows from %d shards, want one per shard holding posts", len(newest), len(shards))
	}
	d.p.linef("BlogQueries.NewestPostsAllShards(1): the newest post of each of the %d shards holding posts", len(shards))

	// On the analytics database: no shard argument.
	views, err := d.db.AnalyticsQueries.MostViewed(ctx, 3)
	if err != nil {
		return err
	}
	if len(views) == 0 || views[0].Views < views[len(views)-1].Views {
		return fmt.Errorf("MostViewed(3) = %+v, want the most viewed posts first", views)
	}
	d.p.linef("AnalyticsQueries.MostViewed(3) on the analytics database: post %d leads with %d views", views[0].PostID, views[0].Views)
	return nil
}
