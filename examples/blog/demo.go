package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shardgen/shardgen/examples/blog/blogdb"
	"github.com/shardgen/shardgen/runtime"
)

// Options tunes Demo.
type Options struct {
	// RunTag, when set, is appended to the users' e-mail addresses (which
	// are unique) so that the demo can run again on servers that keep
	// earlier runs' rows.
	RunTag string
}

// Result is what the demo wrote and read, for the tests to check against the
// servers.
type Result struct {
	Users    []blogdb.UserID
	Posts    []blogdb.PostID
	Comments []blogdb.CommentID // still stored (one was deleted)
	Views    int64              // page views written by this run

	// PostsPerServer and CommentsPerServer are the fan-out counts per
	// physical server of group "blog" (all rows, earlier runs' too).
	PostsPerServer    map[string]int64
	CommentsPerServer map[string]int64
	// TotalPosts and TotalComments are the generated CountAllShards results.
	TotalPosts, TotalComments int64
	// Pages are the IDs of the paginated listing of the first user's posts.
	Pages [][]blogdb.PostID
}

// author is one user of the demo and how many posts they write.
type author struct {
	name  string
	posts int
}

var authors = []author{
	{"alice", 5}, {"bob", 2}, {"carol", 2}, {"dave", 2},
	{"erin", 2}, {"frank", 2}, {"grace", 2}, {"heidi", 2},
}

// Demo runs the blog against the servers of cfg: it migrates every database
// and shard, writes users, posts, comments and page views, reads them back
// by ID alone and by shard key, pages through a listing, counts with an
// explicit fan-out and prints where every row lives.
func Demo(ctx context.Context, p *printer, cfg runtime.Config, source string, opts Options) (*Result, error) {
	res := &Result{}
	r, err := runtime.Open(ctx, cfg, blogdb.Spec)
	if err != nil {
		return nil, fmt.Errorf("opening the router (%s): %w", source, err)
	}
	defer r.Close()
	db, err := blogdb.New(r)
	if err != nil {
		return nil, err
	}
	blog, err := r.Group("blog")
	if err != nil {
		return nil, err
	}

	p.section("Layout (" + source + ")")
	for _, d := range r.Databases() {
		p.linef("database %-10s -> %s", d.Name(), d.Server().Addr())
	}
	for _, s := range blog.Servers() {
		rng := blog.ShardsOn(s)
		p.linef("group blog shards %-5s -> server %s %s (schemas %s .. %s)", rng, s.Name(), s.Addr(),
			blog.Schema(rng.First), blog.Schema(rng.Last))
	}

	p.section("Migrating every database and every shard schema")
	if err := migrate(ctx, p, r); err != nil {
		return nil, err
	}

	p.section("Writing users (default), posts and comments (group blog), page views (analytics)")
	users := make([]*blogdb.User, len(authors))
	var posts []*blogdb.Post
	var comments []*blogdb.Comment
	err = p.step(fmt.Sprintf("insert %d users, their posts, comments and page views", len(authors)), func() error {
		now := time.Now().UTC().Truncate(time.Microsecond)
		for i, a := range authors {
			u := &blogdb.User{Email: a.name + "@example.com", Name: strings.ToUpper(a.name[:1]) + a.name[1:], Joined: now}
			if opts.RunTag != "" {
				u.Email = a.name + "+" + opts.RunTag + "@example.com"
			}
			id, err := db.Users.Insert(ctx, u)
			if err != nil {
				return err
			}
			users[i] = u
			res.Users = append(res.Users, id)
		}
		for i, a := range authors {
			for n := range a.posts {
				post := &blogdb.Post{
					AuthorID: users[i].ID,
					Title:    fmt.Sprintf("%s's post #%d", users[i].Name, n+1),
					Body:     "Sharding is awesome!",
					Tags:     []string{"sharding", a.name},
					Created:  now,
				}
				id, err := db.Posts.Insert(ctx, post)
				if err != nil {
					return err
				}
				posts = append(posts, post)
				res.Posts = append(res.Posts, id)
			}
		}
		// Every post gets a comment from the next user. A comment carries
		// its post's author (the shard key, via=), so it is written to the
		// post's shard: the relation never crosses servers.
		for i, post := range posts {
			c := &blogdb.Comment{
				PostID:       post.ID,
				PostAuthorID: post.AuthorID,
				CommenterID:  users[(i+1)%len(users)].ID,
				Body:         "Sharding sucks!",
				Created:      now,
			}
			id, err := db.Comments.Insert(ctx, c)
			if err != nil {
				return err
			}
			comments = append(comments, c)
			res.Comments = append(res.Comments, id)
		}
		// Page views go to the analytics database; they refer to posts by
		// plain ID, since a post may be on any server.
		for i, post := range posts {
			for v := range 1 + i%3 {
				view := &blogdb.PageView{PostID: post.ID, Path: fmt.Sprintf("/posts/%d", post.ID), At: now}
				if v > 0 {
					viewer := users[v].ID
					view.ViewerID = &viewer
				}
				if _, err := db.PageViews.Insert(ctx, view); err != nil {
					return err
				}
				res.Views++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// One shard-bound transaction: a post and its first comment are
	// written atomically, since both live on the author's shard.
	bob := users[1]
	var txPost *blogdb.Post
	err = p.step("in one transaction on bob's shard: a post and a comment on it", func() error {
		return db.InBlogShard(ctx, blogdb.BlogKey(bob.ID), func(tx *blogdb.BlogTx) error {
			txPost = &blogdb.Post{AuthorID: bob.ID, Title: "Bob's post in a transaction", Body: "Written with its first comment.", Created: time.Now().UTC()}
			if _, err := tx.Posts().Insert(ctx, txPost); err != nil {
				return err
			}
			c := &blogdb.Comment{PostID: txPost.ID, PostAuthorID: bob.ID, CommenterID: users[0].ID, Body: "First!", Created: time.Now().UTC()}
			if _, err := tx.Comments().Insert(ctx, c); err != nil {
				return err
			}
			comments = append(comments, c)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	posts = append(posts, txPost)
	res.Posts = append(res.Posts, blogdb.PostID(txPost.ID))
	res.Comments = append(res.Comments, blogdb.CommentID(comments[len(comments)-1].ID))

	p.section("Where each row lives")
	userDB, err := r.Database("default")
	if err != nil {
		return nil, err
	}
	var tb strings.Builder
	tw := tabwriter.NewWriter(&tb, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ROW\tID\tKEY\tSHARD\tSCHEMA\tSERVER\n")
	for _, u := range users {
		fmt.Fprintf(tw, "user %s\t%d\t-\t-\tpublic\tdefault %s\n", u.Email, u.ID, userDB.Server().Addr())
	}
	name := map[int64]string{}
	for _, u := range users {
		name[u.ID] = strings.ToLower(u.Name)
	}
	for _, post := range posts {
		s := blogdb.PostID(post.ID).Shard()
		srv := blog.ServerOf(s)
		fmt.Fprintf(tw, "post %q\t%d\tauthor %s (%d)\t%d\t%s\t%s %s\n", post.Title, post.ID, name[post.AuthorID], post.AuthorID, s, blog.Schema(s), srv.Name(), srv.Addr())
	}
	for _, c := range comments {
		s := blogdb.CommentID(c.ID).Shard()
		srv := blog.ServerOf(s)
		fmt.Fprintf(tw, "comment on %d\t%d\tpost author %s (%d)\t%d\t%s\t%s %s\n", c.PostID, c.ID, name[c.PostAuthorID], c.PostAuthorID, s, blog.Schema(s), srv.Name(), srv.Addr())
	}
	tw.Flush()
	p.block(tb.String())
	for _, c := range comments {
		if cs, ps := blogdb.CommentID(c.ID).Shard(), blogdb.PostID(c.PostID).Shard(); cs != ps {
			return nil, fmt.Errorf("comment %d is on shard %d but its post %d on shard %d", c.ID, cs, c.PostID, ps)
		}
	}
	p.linef("every comment is on its post's shard: the ID of each row names its shard (%d comments checked)", len(comments))

	p.section("Reading back")
	// By ID alone: the ID carries its logical shard, so no key is needed.
	seen := map[string]bool{}
	for _, post := range posts {
		s := blogdb.PostID(post.ID).Shard()
		srv := blog.ServerOf(s).Name()
		if seen[srv] {
			continue
		}
		seen[srv] = true
		got, err := db.Posts.Get(ctx, blogdb.PostID(post.ID))
		if err != nil {
			return nil, err
		}
		if got.Title != post.Title || got.AuthorID != post.AuthorID || !slices.Equal(got.Tags, post.Tags) {
			return nil, fmt.Errorf("post %d read back as %+v, wrote %+v", post.ID, got, post)
		}
		p.linef("Posts.Get(%d) by ID alone -> shard %d on server %s: %q by user %d", post.ID, s, srv, got.Title, got.AuthorID)
	}
	c0 := comments[0]
	gotC, err := db.Comments.Get(ctx, blogdb.CommentID(c0.ID))
	if err != nil {
		return nil, err
	}
	if gotC.Body != c0.Body || gotC.PostID != c0.PostID {
		return nil, fmt.Errorf("comment %d read back as %+v, wrote %+v", c0.ID, gotC, c0)
	}
	p.linef("Comments.Get(%d) by ID alone -> %q on post %d", c0.ID, gotC.Body, gotC.PostID)
	gotU, err := db.Users.Get(ctx, blogdb.UserID(users[0].ID))
	if err != nil {
		return nil, err
	}
	p.linef("Users.Get(%d) on the default database -> %s <%s>", gotU.ID, gotU.Name, gotU.Email)

	// By shard key, a page at a time (keyset pagination, newest first).
	alice := users[0]
	page := runtime.Page{Limit: 2}
	for n := 1; ; n++ {
		list, err := db.Posts.List(ctx, blogdb.BlogKey(alice.ID), page)
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			break
		}
		ids := make([]blogdb.PostID, len(list))
		titles := make([]string, len(list))
		for i, post := range list {
			ids[i], titles[i] = blogdb.PostID(post.ID), fmt.Sprintf("%q", post.Title)
		}
		res.Pages = append(res.Pages, ids)
		p.linef("Posts.List(alice, Page{Limit: 2, After: %d}) page %d: %s", page.After, n, strings.Join(titles, ", "))
		page = page.Next(list[len(list)-1].ID)
	}
	// The relation accessor exists because Comment -> Post is co-located.
	cs, err := db.Comments.ListByPost(ctx, blogdb.PostID(txPost.ID), runtime.Page{})
	if err != nil {
		return nil, err
	}
	if len(cs) != 1 {
		return nil, fmt.Errorf("Comments.ListByPost(%d) returned %d comments, want 1", txPost.ID, len(cs))
	}
	p.linef("Comments.ListByPost(%d) -> %d comment: %q", txPost.ID, len(cs), cs[0].Body)

	p.section("Updating and deleting by ID")
	published := time.Now().UTC().Truncate(time.Microsecond)
	txPost.Published = &published
	if err := db.Posts.Update(ctx, txPost); err != nil {
		return nil, err
	}
	if got, err := db.Posts.Get(ctx, blogdb.PostID(txPost.ID)); err != nil || got.Published == nil || !got.Published.Equal(published) {
		return nil, fmt.Errorf("post %d not published after Update: %+v, %v", txPost.ID, got, err)
	}
	p.linef("Posts.Update(%d): published at %s", txPost.ID, published.Format(time.RFC3339))
	last := comments[len(comments)-1]
	if err := db.Comments.Delete(ctx, blogdb.CommentID(last.ID)); err != nil {
		return nil, err
	}
	res.Comments = res.Comments[:len(res.Comments)-1]
	_, err = db.Comments.Get(ctx, blogdb.CommentID(last.ID))
	if !errors.Is(err, runtime.ErrNotFound) {
		return nil, fmt.Errorf("Get after Delete: want runtime.ErrNotFound, got %v", err)
	}
	p.linef("Comments.Delete(%d), then Get -> errors.Is(err, runtime.ErrNotFound): %v", last.ID, err)

	p.section("What the types and the router refuse")
	// A transaction is bound to one shard: a post of an author on another
	// shard is refused before anything is sent.
	other := otherShardUser(blog, users, alice)
	if other != nil {
		err = db.InBlogShard(ctx, blogdb.BlogKey(alice.ID), func(tx *blogdb.BlogTx) error {
			_, err := tx.Posts().Insert(ctx, &blogdb.Post{AuthorID: other.ID, Title: "misplaced", Created: time.Now().UTC()})
			return err
		})
		if !errors.Is(err, runtime.ErrWrongShard) {
			return nil, fmt.Errorf("insert into another shard's transaction: want runtime.ErrWrongShard, got %v", err)
		}
		p.linef("a post by %s inside alice's shard transaction -> errors.Is(err, runtime.ErrWrongShard):", strings.ToLower(other.Name))
		p.linef("  %v", err)
	}
	p.linef("a PostID where a CommentID is expected, or a plain int64 where a BlogKey is, does not compile")

	p.section("Explicit fan-out over all 16 shards (one pipelined round trip per server)")
	err = p.step("Posts.CountAllShards and Comments.CountAllShards", func() error {
		var err error
		if res.TotalPosts, err = db.Posts.CountAllShards(ctx); err != nil {
			return err
		}
		res.TotalComments, err = db.Comments.CountAllShards(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.linef("posts: %d, comments: %d", res.TotalPosts, res.TotalComments)
	if res.PostsPerServer, err = countPerServer(ctx, blog, "posts"); err != nil {
		return nil, err
	}
	if res.CommentsPerServer, err = countPerServer(ctx, blog, "comments"); err != nil {
		return nil, err
	}
	for _, s := range blog.Servers() {
		p.linef("server %s (shards %s): %d posts, %d comments", s.Name(), blog.ShardsOn(s), res.PostsPerServer[s.Name()], res.CommentsPerServer[s.Name()])
	}
	views, err := db.PageViews.Count(ctx)
	if err != nil {
		return nil, err
	}
	p.linef("page views on the analytics database: %d (one query, no fan-out)", views)
	return res, nil
}

// migrate applies the generated DDL everywhere, showing progress.
func migrate(ctx context.Context, p *printer, r *runtime.Router) error {
	b := p.bar("migrate")
	start := time.Now()
	applied := 0
	err := runtime.Migrate(ctx, r, blogdb.Spec, runtime.MigrateOptions{
		Progress: func(m runtime.MigrateProgress) {
			where := m.Schema + " on " + m.Server
			if m.Database != "" {
				where = "database " + m.Database
			}
			if len(m.Applied) > 0 {
				applied++
			}
			if m.Err != nil {
				where += " FAILED"
			}
			b.update(m.Done, m.Total, where)
		},
	})
	if err != nil {
		return err
	}
	p.linef("done in %s: %d schemas migrated now, the others were up to date", roundDuration(time.Since(start)), applied)
	return nil
}

// countPerServer counts a table's rows on every shard with the runtime's
// fan-out (the same call the generated CountAllShards makes) and sums them
// per physical server.
func countPerServer(ctx context.Context, g *runtime.Group, table string) (map[string]int64, error) {
	q := g.Prepare("SELECT count(*) FROM " + runtime.SchemaToken + "." + runtime.QuoteIdent(table))
	out := map[string]int64{}
	err := g.FanOut(ctx, q, nil, func(s runtime.Shard, rows pgx.Rows) error {
		for rows.Next() {
			var n int64
			if err := rows.Scan(&n); err != nil {
				return err
			}
			out[g.ServerOf(s).Name()] += n
		}
		return rows.Err()
	})
	return out, err
}

// otherShardUser returns a user whose posts live on another shard than
// u's, or nil if all share it.
func otherShardUser(g *runtime.Group, users []*blogdb.User, u *blogdb.User) *blogdb.User {
	for _, o := range users {
		if g.ShardOfInt64(o.ID) != g.ShardOfInt64(u.ID) {
			return o
		}
	}
	return nil
}
