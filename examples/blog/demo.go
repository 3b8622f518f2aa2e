package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// Log, when set, gets a line for each statement of LogLevel and above
	// (slog.LevelInfo: every statement; slog.LevelError: failed ones),
	// saying the group or database, shard and server it ran on: pgx's
	// tracelog on every server's pool, installed through the runtime's
	// hooks (Config.ConfigurePool).
	Log      *slog.Logger
	LogLevel slog.Level
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
	// Streamed is the number of distinct posts the backfill streamed, over
	// its interruption and resumption.
	Streamed int64
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

// demo is one run: the router, the generated data layer and what was
// written so far.
type demo struct {
	p        *printer
	r        *runtime.Router
	db       *blogdb.DB
	blog     *runtime.Group
	opts     Options
	res      *Result
	users    []*blogdb.User
	posts    []*blogdb.Post
	comments []*blogdb.Comment
	txPost   *blogdb.Post // written in a shard transaction with its comment
}

// Demo runs the blog against the servers of cfg: it migrates every database
// and shard, writes users, posts, comments and page views, reads them back
// by ID alone and by shard key, pages through a listing, counts with an
// explicit fan-out and prints where every row lives. Each step checks what
// it reads, so a wrong answer is an error, not just odd output.
func Demo(ctx context.Context, p *printer, cfg runtime.Config, source string, opts Options) (*Result, error) {
	if opts.Log != nil {
		logQueries(&cfg, opts.Log, opts.LogLevel)
	}
	r, err := runtime.Open(ctx, cfg, blogdb.Spec)
	if err != nil {
		return nil, fmt.Errorf("opening the router (%s): %w", source, err)
	}
	defer r.Close()
	d := &demo{p: p, r: r, opts: opts, res: &Result{}}
	if d.db, err = blogdb.New(r); err != nil {
		return nil, err
	}
	if d.blog, err = r.Group("blog"); err != nil {
		return nil, err
	}
	d.layout(source)
	p.section("Migrating every database and every shard schema")
	if err := migrate(ctx, p, r); err != nil {
		return nil, err
	}
	for _, step := range []func(context.Context) error{
		d.write, d.placement, d.readBack, d.updateAndDelete, d.refusals, d.customQueries, d.fanOut, d.backfill,
	} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return d.res, nil
}

// layout prints which server each database and range of shards is on.
func (d *demo) layout(source string) {
	d.p.section("Layout (" + source + ")")
	for _, db := range d.r.Databases() {
		d.p.linef("database %-10s -> %s", db.Name(), db.Server().Addr())
	}
	for _, s := range d.blog.Servers() {
		rng := d.blog.ShardsOn(s)
		d.p.linef("group blog shards %-5s -> server %s %s (schemas %s .. %s)", rng, s.Name(), s.Addr(),
			d.blog.Schema(rng.First), d.blog.Schema(rng.Last))
	}
}

// write inserts the users, their posts, a comment on every post and some
// page views, then a post and its first comment in one shard transaction.
func (d *demo) write(ctx context.Context) error {
	d.p.section("Writing users (default), posts and comments (group blog), page views (analytics)")
	err := d.p.step(fmt.Sprintf("insert %d users, their posts, a batch of comments (InsertMany) and page views", len(authors)), func() error {
		now := time.Now().UTC().Truncate(time.Microsecond)
		for _, a := range authors {
			u := &blogdb.User{Email: a.name + "@example.com", Name: strings.ToUpper(a.name[:1]) + a.name[1:], Joined: now}
			if d.opts.RunTag != "" {
				u.Email = a.name + "+" + d.opts.RunTag + "@example.com"
			}
			id, err := d.db.Users.Insert(ctx, u)
			if err != nil {
				return err
			}
			d.users = append(d.users, u)
			d.res.Users = append(d.res.Users, id)
		}
		for i, a := range authors {
			for n := range a.posts {
				post := &blogdb.Post{
					AuthorID: d.users[i].ID,
					Title:    fmt.Sprintf("%s's post #%d", d.users[i].Name, n+1),
					Body:     "Sharding is awesome!",
					Tags:     []string{"sharding", a.name},
					Created:  now,
				}
				id, err := d.db.Posts.Insert(ctx, post)
				if err != nil {
					return err
				}
				d.posts = append(d.posts, post)
				d.res.Posts = append(d.res.Posts, id)
			}
		}
		// Every post gets a comment from the next user. A comment carries
		// its post's author (the shard key, via=), so it is written to the
		// post's shard: the relation never crosses servers. The comments
		// go as one batch: InsertMany groups them by shard, one multi-row
		// INSERT per shard and one round trip per server, and sets each
		// comment's ID.
		var batch []*blogdb.Comment
		for i, post := range d.posts {
			batch = append(batch, &blogdb.Comment{
				PostID:       post.ID,
				PostAuthorID: post.AuthorID,
				CommenterID:  d.users[(i+1)%len(d.users)].ID,
				Body:         "Sharding sucks!",
				Created:      now,
			})
		}
		if err := d.db.Comments.InsertMany(ctx, batch); err != nil {
			return err
		}
		for _, c := range batch {
			d.comments = append(d.comments, c)
			d.res.Comments = append(d.res.Comments, blogdb.CommentID(c.ID))
		}
		// Page views go to the analytics database; they refer to posts by
		// plain ID, since a post may be on any server.
		for i, post := range d.posts {
			for v := range 1 + i%3 {
				view := &blogdb.PageView{PostID: post.ID, Path: fmt.Sprintf("/posts/%d", post.ID), At: now}
				if v > 0 {
					viewer := d.users[v].ID
					view.ViewerID = &viewer
				}
				if _, err := d.db.PageViews.Insert(ctx, view); err != nil {
					return err
				}
				d.res.Views++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	// One shard-bound transaction: a post and its first comment are
	// written atomically, since both live on the author's shard.
	bob := d.users[1]
	var first *blogdb.Comment
	err = d.p.step("in one transaction on bob's shard: a post and a comment on it", func() error {
		return d.db.InBlogShard(ctx, blogdb.BlogKey(bob.ID), func(tx *blogdb.BlogTx) error {
			post := &blogdb.Post{AuthorID: bob.ID, Title: "Bob's post in a transaction", Body: "Written with its first comment.", Created: time.Now().UTC()}
			if _, err := tx.Posts().Insert(ctx, post); err != nil {
				return err
			}
			c := &blogdb.Comment{PostID: post.ID, PostAuthorID: bob.ID, CommenterID: d.users[0].ID, Body: "First!", Created: time.Now().UTC()}
			if _, err := tx.Comments().Insert(ctx, c); err != nil {
				return err
			}
			d.txPost, first = post, c
			return nil
		})
	})
	if err != nil {
		return err
	}
	d.posts = append(d.posts, d.txPost)
	d.res.Posts = append(d.res.Posts, blogdb.PostID(d.txPost.ID))
	d.comments = append(d.comments, first)
	d.res.Comments = append(d.res.Comments, blogdb.CommentID(first.ID))
	return nil
}

// placement prints the logical shard, schema and server of every row and
// checks that every comment is on its post's shard.
func (d *demo) placement(ctx context.Context) error {
	d.p.section("Where each row lives")
	userDB, err := d.r.Database("default")
	if err != nil {
		return err
	}
	var tb strings.Builder
	tw := tabwriter.NewWriter(&tb, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ROW\tID\tKEY\tSHARD\tSCHEMA\tSERVER\n")
	name := map[int64]string{}
	for _, u := range d.users {
		name[u.ID] = strings.ToLower(u.Name)
		fmt.Fprintf(tw, "user %s\t%d\t-\t-\tpublic\tdefault %s\n", u.Email, u.ID, userDB.Server().Addr())
	}
	for _, post := range d.posts {
		s := blogdb.PostID(post.ID).Shard()
		srv := d.blog.ServerOf(s)
		fmt.Fprintf(tw, "post %q\t%d\tauthor %s (%d)\t%d\t%s\t%s %s\n", post.Title, post.ID, name[post.AuthorID], post.AuthorID, s, d.blog.Schema(s), srv.Name(), srv.Addr())
	}
	for _, c := range d.comments {
		s := blogdb.CommentID(c.ID).Shard()
		srv := d.blog.ServerOf(s)
		fmt.Fprintf(tw, "comment on %d\t%d\tpost author %s (%d)\t%d\t%s\t%s %s\n", c.PostID, c.ID, name[c.PostAuthorID], c.PostAuthorID, s, d.blog.Schema(s), srv.Name(), srv.Addr())
	}
	tw.Flush()
	d.p.block(tb.String())
	for _, c := range d.comments {
		if cs, ps := blogdb.CommentID(c.ID).Shard(), blogdb.PostID(c.PostID).Shard(); cs != ps {
			return fmt.Errorf("comment %d is on shard %d but its post %d on shard %d", c.ID, cs, c.PostID, ps)
		}
	}
	d.p.linef("every comment is on its post's shard: the ID of each row names its shard (%d comments checked)", len(d.comments))
	return nil
}

// readBack reads rows by ID alone, lists one author's posts a page at a
// time by shard key, and follows the co-located relation.
func (d *demo) readBack(ctx context.Context) error {
	d.p.section("Reading back")
	// By ID alone: the ID carries its logical shard, so no key is needed.
	// One post per server.
	seen := map[string]bool{}
	for _, post := range d.posts {
		s := blogdb.PostID(post.ID).Shard()
		srv := d.blog.ServerOf(s).Name()
		if seen[srv] {
			continue
		}
		seen[srv] = true
		got, err := d.db.Posts.Get(ctx, blogdb.PostID(post.ID))
		if err != nil {
			return err
		}
		if got.Title != post.Title || got.AuthorID != post.AuthorID || !slices.Equal(got.Tags, post.Tags) {
			return fmt.Errorf("post %d read back as %+v, wrote %+v", post.ID, got, post)
		}
		d.p.linef("Posts.Get(%d) by ID alone -> shard %d on server %s: %q by user %d", post.ID, s, srv, got.Title, got.AuthorID)
	}
	// Many IDs at once: grouped by server, one round trip per server.
	ids := make([]blogdb.PostID, len(d.posts))
	for i, post := range d.posts {
		ids[i] = blogdb.PostID(post.ID)
	}
	many, err := d.db.Posts.GetMany(ctx, ids)
	if err != nil {
		return err
	}
	for i, post := range many {
		if post == nil || post.ID != int64(ids[i]) {
			return fmt.Errorf("Posts.GetMany: position %d is %+v, want post %d", i, post, ids[i])
		}
	}
	d.p.linef("Posts.GetMany(%d IDs) -> %d posts in the order asked, one round trip per server", len(ids), len(many))
	c0 := d.comments[0]
	gotC, err := d.db.Comments.Get(ctx, blogdb.CommentID(c0.ID))
	if err != nil {
		return err
	}
	if gotC.Body != c0.Body || gotC.PostID != c0.PostID {
		return fmt.Errorf("comment %d read back as %+v, wrote %+v", c0.ID, gotC, c0)
	}
	d.p.linef("Comments.Get(%d) by ID alone -> %q on post %d", c0.ID, gotC.Body, gotC.PostID)
	gotU, err := d.db.Users.Get(ctx, blogdb.UserID(d.users[0].ID))
	if err != nil {
		return err
	}
	d.p.linef("Users.Get(%d) on the default database -> %s <%s>", gotU.ID, gotU.Name, gotU.Email)
	// A unique field gets a finder.
	byEmail, err := d.db.Users.GetByEmail(ctx, gotU.Email)
	if err != nil {
		return err
	}
	if byEmail.ID != gotU.ID {
		return fmt.Errorf("Users.GetByEmail(%q) found user %d, want %d", gotU.Email, byEmail.ID, gotU.ID)
	}
	d.p.linef("Users.GetByEmail(%q) -> user %d", gotU.Email, byEmail.ID)

	// By shard key, a page at a time (keyset pagination, newest first).
	alice := d.users[0]
	page := runtime.Page{Limit: 2}
	for n := 1; ; n++ {
		list, err := d.db.Posts.List(ctx, blogdb.BlogKey(alice.ID), page)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			break
		}
		ids := make([]blogdb.PostID, len(list))
		titles := make([]string, len(list))
		for i, post := range list {
			ids[i], titles[i] = blogdb.PostID(post.ID), fmt.Sprintf("%q", post.Title)
		}
		d.res.Pages = append(d.res.Pages, ids)
		d.p.linef("Posts.List(alice, Page{Limit: 2, After: %d}) page %d: %s", page.After, n, strings.Join(titles, ", "))
		page = page.Next(list[len(list)-1].ID)
	}
	n, err := d.db.Posts.CountByKey(ctx, blogdb.BlogKey(alice.ID))
	if err != nil {
		return err
	}
	d.p.linef("Posts.CountByKey(alice) -> %d posts, one round trip on her shard", n)
	// The relation accessor exists because Comment -> Post is co-located.
	cs, err := d.db.Comments.ListByPost(ctx, blogdb.PostID(d.txPost.ID), runtime.Page{})
	if err != nil {
		return err
	}
	if len(cs) != 1 {
		return fmt.Errorf("Comments.ListByPost(%d) returned %d comments, want 1", d.txPost.ID, len(cs))
	}
	d.p.linef("Comments.ListByPost(%d) -> %d comment: %q", d.txPost.ID, len(cs), cs[0].Body)
	return nil
}

// updateAndDelete publishes a post and deletes a comment, by ID.
func (d *demo) updateAndDelete(ctx context.Context) error {
	d.p.section("Updating and deleting by ID")
	published := time.Now().UTC().Truncate(time.Microsecond)
	d.txPost.Published = &published
	if err := d.db.Posts.Update(ctx, d.txPost); err != nil {
		return err
	}
	if got, err := d.db.Posts.Get(ctx, blogdb.PostID(d.txPost.ID)); err != nil || got.Published == nil || !got.Published.Equal(published) {
		return fmt.Errorf("post %d not published after Update: %+v, %v", d.txPost.ID, got, err)
	}
	d.p.linef("Posts.Update(%d): published at %s", d.txPost.ID, published.Format(time.RFC3339))
	last := d.comments[len(d.comments)-1]
	if err := d.db.Comments.Delete(ctx, blogdb.CommentID(last.ID)); err != nil {
		return err
	}
	d.res.Comments = d.res.Comments[:len(d.res.Comments)-1]
	_, err := d.db.Comments.Get(ctx, blogdb.CommentID(last.ID))
	if !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("Get after Delete: want runtime.ErrNotFound, got %v", err)
	}
	d.p.linef("Comments.Delete(%d), then Get -> errors.Is(err, runtime.ErrNotFound): %v", last.ID, err)
	return nil
}

// refusals shows a shard transaction refusing a row of another shard.
func (d *demo) refusals(ctx context.Context) error {
	d.p.section("What the types and the router refuse")
	// A transaction is bound to one shard: a post of an author on another
	// shard is refused before anything is sent.
	alice := d.users[0]
	if other := otherShardUser(d.blog, d.users, alice); other != nil {
		err := d.db.InBlogShard(ctx, blogdb.BlogKey(alice.ID), func(tx *blogdb.BlogTx) error {
			_, err := tx.Posts().Insert(ctx, &blogdb.Post{AuthorID: other.ID, Title: "misplaced", Created: time.Now().UTC()})
			return err
		})
		if !errors.Is(err, runtime.ErrWrongShard) {
			return fmt.Errorf("insert into another shard's transaction: want runtime.ErrWrongShard, got %v", err)
		}
		d.p.linef("a post by %s inside alice's shard transaction -> errors.Is(err, runtime.ErrWrongShard):", strings.ToLower(other.Name))
		d.p.linef("  %v", err)
	}
	d.p.linef("a PostID where a CommentID is expected, or a plain int64 where a BlogKey is, does not compile")
	return nil
}

// fanOut counts every shard's rows with the generated, explicitly named
// fan-out, and per server with the runtime's FanOut.
func (d *demo) fanOut(ctx context.Context) error {
	d.p.section("Explicit fan-out over all 16 shards (one pipelined round trip per server)")
	res := d.res
	err := d.p.step("Posts.CountAllShards and Comments.CountAllShards", func() error {
		var err error
		if res.TotalPosts, err = d.db.Posts.CountAllShards(ctx); err != nil {
			return err
		}
		res.TotalComments, err = d.db.Comments.CountAllShards(ctx)
		return err
	})
	if err != nil {
		return err
	}
	d.p.linef("posts: %d, comments: %d", res.TotalPosts, res.TotalComments)
	if res.PostsPerServer, err = countPerServer(ctx, d.blog, "posts"); err != nil {
		return err
	}
	if res.CommentsPerServer, err = countPerServer(ctx, d.blog, "comments"); err != nil {
		return err
	}
	for _, s := range d.blog.Servers() {
		d.p.linef("server %s (shards %s): %d posts, %d comments", s.Name(), d.blog.ShardsOn(s), res.PostsPerServer[s.Name()], res.CommentsPerServer[s.Name()])
	}
	views, err := d.db.PageViews.Count(ctx)
	if err != nil {
		return err
	}
	d.p.linef("page views on the analytics database: %d (one query, no fan-out)", views)
	return nil
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
