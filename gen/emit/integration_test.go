package emit

import (
	"os/exec"
	"testing"

	"github.com/shardgen/shardgen/internal/testmod"
)

// TestGeneratedCodeAgainstPostgreSQL runs the generated repositories of
// blogPackage against real PostgreSQL: two throwaway servers (runtime/pgtest)
// holding the default and analytics databases and the 16 shards of group
// blog, split 8/8. The test program is compiled in a temp module like a
// user's and run with go test there.
func TestGeneratedCodeAgainstPostgreSQL(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	files := generated(t)
	files["app_test.go"] = []byte(integrationProgram)
	dir := testmod.New(t, files)
	cmd := exec.Command("go", "test", "-count=1", "-v", "./...")
	cmd.Dir = dir
	cmd.Env = testmod.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("generated code against PostgreSQL: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

const integrationProgram = `package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

func open(t *testing.T) (*DB, *runtime.Router) {
	t.Helper()
	ctx := context.Background()
	_, urls := pgtest.NewDatabase(t, 2, "app")
	cfg := runtime.Config{
		Databases: map[string]string{"default": urls[0], "analytics": urls[1]},
		Groups: map[string][]runtime.ServerConfig{
			"blog":    {{Name: "a", URL: urls[0], Shards: "0-7"}, {Name: "b", URL: urls[1], Shards: "8-15"}},
			"metrics": {{Name: "a", URL: urls[1], Shards: "0-7"}},
		},
	}
	r, err := runtime.Open(ctx, cfg, Spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if err := runtime.Migrate(ctx, r, Spec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Migrating again is a no-op.
	if err := runtime.Migrate(ctx, r, Spec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	db, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	return db, r
}

// TestSpecLayout: with a non-default ID layout set on Spec (41/11/12), the
// IDs the shards mint carry their shard for the generated ID type and for
// the repositories (Get finds every row), the default layout would have
// decoded them elsewhere, and New refuses a router whose Spec has another
// layout than Spec.
func TestSpecLayout(t *testing.T) {
	saved := Spec
	t.Cleanup(func() { Spec = saved })
	Spec.Layout = runtime.Layout{TimeBits: 41, ShardBits: 11, SeqBits: 12, Epoch: runtime.DefaultEpoch()}
	db, r := open(t)
	ctx := context.Background()
	blog, err := r.Group("blog")
	if err != nil {
		t.Fatal(err)
	}
	misrouted := 0
	for author := range int64(40) {
		id, err := db.Posts.Insert(ctx, &Post{AuthorID: author, Title: "t", CreatedAt: time.Now().UTC()})
		if err != nil {
			t.Fatal(err)
		}
		if id.Shard() != blog.ShardOfInt64(author) {
			t.Fatalf("ID %d carries shard %d, the key maps to %d", id, id.Shard(), blog.ShardOfInt64(author))
		}
		if got, err := db.Posts.Get(ctx, id); err != nil || got.AuthorID != author {
			t.Fatalf("Get(%d) = %+v, %v", id, got, err)
		}
		if runtime.DefaultLayout().Shard(int64(id)) != id.Shard() {
			misrouted++
		}
	}
	if misrouted == 0 {
		t.Error("the default layout decodes every ID alike: the test cannot tell the layouts apart")
	}
	Spec = saved
	if _, err := New(r); err == nil || !strings.Contains(err.Error(), "ID layout") {
		t.Errorf("New with a router of another layout: %v", err)
	}
}

func TestRepositories(t *testing.T) {
	db, r := open(t)
	ctx := context.Background()
	blog, err := r.Group("blog")
	if err != nil {
		t.Fatal(err)
	}

	// Default database: CRUD, unique constraint, not found.
	u := &User{Email: "ada@example.com", Name: "Ada"}
	uid, err := db.Users.Insert(ctx, u)
	if err != nil || uid == 0 || int64(uid) != u.ID {
		t.Fatalf("Users.Insert = %v, %v (row ID %d)", uid, err, u.ID)
	}
	if _, err := db.Users.Insert(ctx, &User{Email: "ada@example.com"}); !isCode(err, "23505") {
		t.Errorf("duplicate email: %v, want a unique violation", err)
	}
	u.Name = "Ada L."
	if err := db.Users.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := db.Users.Get(ctx, uid)
	if err != nil || got.Name != "Ada L." || got.Email != u.Email {
		t.Fatalf("Users.Get = %+v, %v", got, err)
	}
	if n, err := db.Users.Count(ctx); err != nil || n != 1 {
		t.Errorf("Users.Count = %d, %v", n, err)
	}
	if err := db.Users.Delete(ctx, uid); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Users.Get(ctx, uid); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := db.Users.Delete(ctx, uid); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if err := db.Users.Update(ctx, u); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Update of a deleted row: %v, want ErrNotFound", err)
	}

	// Sharded: IDs carry the shard of the key; pages are newest first.
	const author = 7
	var ids []PostID
	for i := range 25 {
		p := &Post{AuthorID: author, Title: "post", Body: "b", CreatedAt: time.Now().UTC()}
		if i%2 == 0 {
			p.Title = "even"
		}
		id, err := db.Posts.Insert(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if id.Shard() != blog.ShardOfInt64(author) {
			t.Fatalf("ID %d carries shard %d, the key maps to %d", id, id.Shard(), blog.ShardOfInt64(author))
		}
		ids = append(ids, id)
	}
	other := int64(author + 1)
	for blog.ShardOfInt64(other) == blog.ShardOfInt64(author) {
		other++
	}
	otherPost := &Post{AuthorID: other, Title: "other"}
	if _, err := db.Posts.Insert(ctx, otherPost); err != nil {
		t.Fatal(err)
	}
	page := runtime.Page{Limit: 10}
	var listed []PostID
	for {
		rows, err := db.Posts.List(ctx, BlogKey(author), page)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rows {
			listed = append(listed, PostID(p.ID))
		}
		if len(rows) < page.Size() {
			break
		}
		page = page.Next(rows[len(rows)-1].ID)
	}
	if len(listed) != len(ids) {
		t.Fatalf("listed %d posts, want %d", len(listed), len(ids))
	}
	for i, id := range listed {
		if id != ids[len(ids)-1-i] {
			t.Fatalf("List order: position %d has %d, want %d (newest first)", i, id, ids[len(ids)-1-i])
		}
	}
	p, err := db.Posts.Get(ctx, ids[3])
	if err != nil || p.AuthorID != author {
		t.Fatalf("Posts.Get = %+v, %v", p, err)
	}
	p.Title = "edited"
	if err := db.Posts.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	moved := *p
	moved.AuthorID = other
	if err := db.Posts.Update(ctx, &moved); !errors.Is(err, runtime.ErrWrongShard) {
		t.Errorf("Update with a key of another shard: %v, want ErrWrongShard", err)
	}
	if _, err := db.Posts.Get(ctx, PostID(int64(ids[0])+1<<40)); err == nil {
		t.Errorf("Get of an ID nobody minted succeeded")
	}
	if n, err := db.Posts.CountAllShards(ctx); err != nil || n != 26 {
		t.Errorf("CountAllShards = %d, %v, want 26", n, err)
	}

	// Co-located relation: comments live on their post's shard, with a
	// real composite foreign key.
	c := &Comment{PostAuthorID: author, PostID: int64(ids[3]), Text: "first"}
	if _, err := db.Comments.Insert(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Comments.Insert(ctx, &Comment{PostAuthorID: author, PostID: int64(ids[3]) + 1<<30, Text: "dangling"}); !isCode(err, "23503") {
		t.Errorf("comment on a missing post: %v, want a foreign key violation", err)
	}
	cs, err := db.Comments.ListByPost(ctx, ids[3], runtime.Page{})
	if err != nil || len(cs) != 1 || cs[0].Text != "first" {
		t.Fatalf("ListByPost = %+v, %v", cs, err)
	}

	// Shard transactions: rolled back on error, committed otherwise, and
	// refusing keys and IDs of other shards.
	boom := errors.New("boom")
	err = db.InBlogShard(ctx, author, func(tx *BlogTx) error {
		if _, err := tx.Posts().Insert(ctx, &Post{AuthorID: author, Title: "in tx"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InBlogShard = %v, want boom", err)
	}
	if n, _ := db.Posts.CountAllShards(ctx); n != 26 {
		t.Errorf("after rollback: %d posts, want 26", n)
	}
	err = db.InBlogShard(ctx, author, func(tx *BlogTx) error {
		np := &Post{AuthorID: author, Title: "in tx"}
		id, err := tx.Posts().Insert(ctx, np)
		if err != nil {
			return err
		}
		if _, err := tx.Comments().Insert(ctx, &Comment{PostAuthorID: author, PostID: int64(id), Text: "tx"}); err != nil {
			return err
		}
		if _, err := tx.Posts().Get(ctx, PostID(otherPost.ID)); !errors.Is(err, runtime.ErrWrongShard) {
			t.Errorf("tx Get of another shard's ID: %v, want ErrWrongShard", err)
		}
		if _, err := tx.Posts().Insert(ctx, &Post{AuthorID: other}); !errors.Is(err, runtime.ErrWrongShard) {
			t.Errorf("tx Insert with another shard's key: %v, want ErrWrongShard", err)
		}
		got, err := tx.Comments().ListByPost(ctx, id, runtime.Page{})
		if err != nil || len(got) != 1 {
			t.Errorf("tx ListByPost = %v, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Posts.CountAllShards(ctx); n != 27 {
		t.Errorf("after commit: %d posts, want 27", n)
	}

	// String keys.
	ctr := &Counter{Name: "signups", Value: 3}
	cid, err := db.Counters.Insert(ctx, ctr)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.Counters.List(ctx, "signups", runtime.Page{}); err != nil || len(got) != 1 || int64(cid) != got[0].ID {
		t.Errorf("Counters.List = %v, %v", got, err)
	}

	// Partition database with a same-database relation (nullable).
	sess := &Session{UserAgent: "curl"}
	sid, err := db.Sessions.Insert(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	sessionID := int64(sid)
	for _, v := range []*PageView{{URL: "/a"}, {URL: "/b", SessionID: &sessionID}} {
		if _, err := db.PageViews.Insert(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	views, err := db.PageViews.ListBySession(ctx, sid, runtime.Page{})
	if err != nil || len(views) != 1 || views[0].URL != "/b" {
		t.Errorf("ListBySession = %v, %v", views, err)
	}
	err = db.InAnalyticsTx(ctx, func(tx *AnalyticsTx) error {
		n, err := tx.PageViews().Count(ctx)
		if err != nil || n != 2 {
			t.Errorf("tx Count = %d, %v", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFinders runs GetBy (unique fields), ListBy (index fields) and
// CountByKey on a database model and on sharded models over both servers.
func TestFinders(t *testing.T) {
	db, r := open(t)
	ctx := context.Background()
	metrics, err := r.Group("metrics")
	if err != nil {
		t.Fatal(err)
	}
	blog, err := r.Group("blog")
	if err != nil {
		t.Fatal(err)
	}

	// Database model: GetByEmail.
	uid, err := db.Users.Insert(ctx, &User{Email: "grace@example.com", Name: "Grace"})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := db.Users.GetByEmail(ctx, "grace@example.com"); err != nil || u.ID != int64(uid) || u.Name != "Grace" {
		t.Fatalf("GetByEmail = %+v, %v", u, err)
	}
	if _, err := db.Users.GetByEmail(ctx, "nobody@example.com"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetByEmail of an unknown email: %v, want ErrNotFound", err)
	}
	err = db.InDefaultTx(ctx, func(tx *DefaultTx) error {
		u, err := tx.Users().GetByEmail(ctx, "grace@example.com")
		if err != nil || u.ID != int64(uid) {
			t.Errorf("tx GetByEmail = %+v, %v", u, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Sharded, string keys: owners on shards of both servers (metrics has
	// one server; blog below spans two).
	owners := []string{"ann", "bob", "cy", "dee"}
	ext := UUID{7, 7, 7}
	var annID LabelID
	for i, o := range owners {
		l := &Label{Owner: o, Slug: "urgent", Color: "red"}
		if i == 0 {
			l.Ext = &ext
		}
		id, err := db.Labels.Insert(ctx, l)
		if err != nil {
			t.Fatalf("insert label of %s: %v", o, err)
		}
		if i == 0 {
			annID = id
		}
		if _, err := db.Labels.Insert(ctx, &Label{Owner: o, Slug: "later-" + o, Color: "red"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Labels.GetBySlug(ctx, "ann", "urgent")
	if err != nil || got.ID != int64(annID) || got.Owner != "ann" {
		t.Fatalf("GetBySlug = %+v, %v", got, err)
	}
	if got, err := db.Labels.GetByExt(ctx, "ann", ext); err != nil || got.ID != int64(annID) {
		t.Fatalf("GetByExt = %+v, %v", got, err)
	}
	if _, err := db.Labels.GetByExt(ctx, "bob", ext); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetByExt under another key: %v, want ErrNotFound", err)
	}
	// The key is part of the lookup: another owner on the same shard with
	// the same slug is never returned.
	same := "ann2"
	for metrics.ShardOfString(same) != metrics.ShardOfString("ann") {
		same += "x"
	}
	if _, err := db.Labels.GetBySlug(ctx, MetricsKey(same), "urgent"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetBySlug of a key without that slug on the same shard: %v, want ErrNotFound", err)
	}
	page := runtime.Page{Limit: 1}
	var reds []int64
	for {
		rows, err := db.Labels.ListByColor(ctx, "cy", "red", page)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range rows {
			if l.Owner != "cy" || l.Color != "red" {
				t.Fatalf("ListByColor returned %+v", l)
			}
			reds = append(reds, l.ID)
		}
		if len(rows) < page.Size() {
			break
		}
		page = page.Next(rows[len(rows)-1].ID)
	}
	if len(reds) != 2 || reds[0] < reds[1] {
		t.Errorf("ListByColor pages = %v, want two IDs newest first", reds)
	}
	if n, err := db.Labels.CountByKey(ctx, "dee"); err != nil || n != 2 {
		t.Errorf("Labels.CountByKey = %d, %v, want 2", n, err)
	}
	if n, err := db.Labels.CountByKey(ctx, "nobody"); err != nil || n != 0 {
		t.Errorf("CountByKey of an unknown key = %d, %v, want 0", n, err)
	}

	// Sharded over two servers: ListByTitle and CountByKey for authors on
	// each server, in and out of transactions.
	var onA, onB int64
	for k := int64(1); onA == 0 || onB == 0; k++ {
		if blog.ShardOfInt64(k) < 8 && onA == 0 {
			onA = k
		} else if blog.ShardOfInt64(k) >= 8 && onB == 0 {
			onB = k
		}
	}
	for _, a := range []int64{onA, onB} {
		for i := range 3 {
			title := "draft"
			if i == 0 {
				title = "final"
			}
			if _, err := db.Posts.Insert(ctx, &Post{AuthorID: a, Title: title}); err != nil {
				t.Fatal(err)
			}
		}
		drafts, err := db.Posts.ListByTitle(ctx, BlogKey(a), "draft", runtime.Page{})
		if err != nil || len(drafts) != 2 || drafts[0].AuthorID != a {
			t.Errorf("ListByTitle(%d) = %v, %v", a, drafts, err)
		}
		if n, err := db.Posts.CountByKey(ctx, BlogKey(a)); err != nil || n != 3 {
			t.Errorf("Posts.CountByKey(%d) = %d, %v, want 3", a, n, err)
		}
	}
	err = db.InBlogShard(ctx, BlogKey(onA), func(tx *BlogTx) error {
		if n, err := tx.Posts().CountByKey(ctx, BlogKey(onA)); err != nil || n != 3 {
			t.Errorf("tx CountByKey = %d, %v", n, err)
		}
		if rows, err := tx.Posts().ListByTitle(ctx, BlogKey(onA), "final", runtime.Page{}); err != nil || len(rows) != 1 {
			t.Errorf("tx ListByTitle = %v, %v", rows, err)
		}
		if _, err := tx.Posts().CountByKey(ctx, BlogKey(onB)); !errors.Is(err, runtime.ErrWrongShard) {
			t.Errorf("tx CountByKey of another shard's key: %v, want ErrWrongShard", err)
		}
		if _, err := tx.Posts().ListByTitle(ctx, BlogKey(onB), "final", runtime.Page{}); !errors.Is(err, runtime.ErrWrongShard) {
			t.Errorf("tx ListByTitle of another shard's key: %v, want ErrWrongShard", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGetMany reads posts of authors on both servers by ID, in the order
// asked, with a missing and a malformed ID among them, and users by ID on
// the default database.
func TestGetMany(t *testing.T) {
	db, r := open(t)
	ctx := context.Background()
	blog, err := r.Group("blog")
	if err != nil {
		t.Fatal(err)
	}
	var ids []PostID
	servers := map[string]bool{}
	for a := int64(1); a <= 12; a++ {
		id, err := db.Posts.Insert(ctx, &Post{AuthorID: a, Title: "t" + PostID(a).String()})
		if err != nil {
			t.Fatal(err)
		}
		servers[blog.ServerOf(id.Shard()).Name()] = true
		ids = append(ids, id)
	}
	if len(servers) != 2 {
		t.Fatalf("posts on servers %v, want both", servers)
	}
	missing := ids[0] + 1000          // on a real shard, never minted
	malformed := PostID(20<<runtime.DefaultSeqBits | 5) // shard 20 of 16
	ask := []PostID{ids[5], missing, ids[0], malformed, ids[11], ids[5]}
	got, err := db.Posts.GetMany(ctx, ask)
	var me *runtime.ManyError
	if !errors.As(err, &me) || len(me.Malformed) != 1 || me.Malformed[0] != int64(malformed) || me.Failed != nil {
		t.Fatalf("GetMany error = %v, want a ManyError naming only %d", err, malformed)
	}
	if !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("ManyError with a malformed ID does not wrap ErrNotFound: %v", err)
	}
	if len(got) != len(ask) {
		t.Fatalf("GetMany returned %d rows for %d IDs", len(got), len(ask))
	}
	for i, id := range ask {
		switch id {
		case missing, malformed:
			if got[i] != nil {
				t.Errorf("GetMany[%d] for ID %d = %+v, want nil", i, id, got[i])
			}
		default:
			if got[i] == nil || got[i].ID != int64(id) || got[i].Title != "t"+PostID(got[i].AuthorID).String() {
				t.Errorf("GetMany[%d] for ID %d = %+v", i, id, got[i])
			}
		}
	}
	all, err := db.Posts.GetMany(ctx, ids)
	if err != nil || len(all) != len(ids) {
		t.Fatalf("GetMany of every post = %d rows, %v", len(all), err)
	}
	for i, p := range all {
		if p == nil || p.ID != int64(ids[i]) {
			t.Fatalf("GetMany of every post: position %d = %+v, want ID %d", i, p, ids[i])
		}
	}
	if none, err := db.Posts.GetMany(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("GetMany(nil) = %v, %v", none, err)
	}

	u1, err := db.Users.Insert(ctx, &User{Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	u2, err := db.Users.Insert(ctx, &User{Email: "b@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	us, err := db.Users.GetMany(ctx, []UserID{u2, u2 + 100, u1})
	if err != nil || len(us) != 3 || us[0] == nil || us[0].Email != "b@example.com" || us[1] != nil || us[2] == nil || us[2].ID != int64(u1) {
		t.Fatalf("Users.GetMany = %+v, %v", us, err)
	}
}

// TestInsertMany inserts batches into sharded and database models: IDs
// minted in each row's shard and set on the rows, the data read back by
// ID, a server's rows written all or none, a transaction refusing a row of
// another shard before writing anything, and more rows than one statement's
// parameters allow.
func TestInsertMany(t *testing.T) {
	db, r := open(t)
	ctx := context.Background()
	blog, err := r.Group("blog")
	if err != nil {
		t.Fatal(err)
	}
	var posts []*Post
	for i := range 200 {
		posts = append(posts, &Post{AuthorID: int64(1 + i%50), Title: "p" + PostID(i).String(), Body: "b", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
	}
	posts[0].ID = 12345 // ignored
	if err := db.Posts.InsertMany(ctx, posts); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	servers := map[string]bool{}
	for i, p := range posts {
		id := PostID(p.ID)
		if p.ID == 0 || seen[p.ID] || id.Shard() != blog.ShardOfInt64(p.AuthorID) {
			t.Fatalf("row %d: ID %d (shard %d), key on shard %d, seen before %v", i, p.ID, id.Shard(), blog.ShardOfInt64(p.AuthorID), seen[p.ID])
		}
		seen[p.ID] = true
		servers[blog.ServerOf(id.Shard()).Name()] = true
		got, err := db.Posts.Get(ctx, id)
		if err != nil || got.Title != p.Title || got.AuthorID != p.AuthorID || !got.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("row %d: Get(%d) = %+v, %v; inserted %+v", i, id, got, err, p)
		}
	}
	if len(servers) != 2 {
		t.Fatalf("rows on servers %v, want both", servers)
	}
	if n, err := db.Posts.CountAllShards(ctx); err != nil || n != 200 {
		t.Fatalf("CountAllShards = %d, %v, want 200", n, err)
	}
	if err := db.Posts.InsertMany(ctx, nil); err != nil {
		t.Errorf("InsertMany(nil) = %v", err)
	}

	// A server's rows are one pipeline in one implicit transaction: a
	// comment on a missing post (a foreign key violation) fails its
	// server's rows, and only those.
	bad := 0
	for blog.ServerOf(blog.ShardOfInt64(posts[bad].AuthorID)).Name() != "b" {
		bad++
	}
	good := 0
	for blog.ServerOf(blog.ShardOfInt64(posts[good].AuthorID)).Name() != "a" {
		good++
	}
	var comments []*Comment
	for _, p := range posts[:40] {
		comments = append(comments, &Comment{PostAuthorID: p.AuthorID, PostID: p.ID, Text: "c"})
	}
	comments = append(comments, &Comment{PostAuthorID: posts[bad].AuthorID, PostID: posts[bad].ID + 1<<30, Text: "dangling"})
	err = db.Comments.InsertMany(ctx, comments)
	var fe *runtime.FanOutError
	if !errors.As(err, &fe) || !isCode(err, "23503") {
		t.Fatalf("InsertMany with a dangling comment: %v, want a FanOutError with a foreign key violation", err)
	}
	for _, f := range fe.Failed {
		if f.Server != "b" {
			t.Errorf("failed shard %d on server %q, want only server b", f.Shard, f.Server)
		}
	}
	written := 0
	for i, c := range comments {
		onB := blog.ServerOf(blog.ShardOfInt64(c.PostAuthorID)).Name() == "b"
		if onB != (c.ID == 0) {
			t.Errorf("comment %d (server b: %v) has ID %d", i, onB, c.ID)
		}
		if c.ID != 0 {
			written++
			if got, err := db.Comments.Get(ctx, CommentID(c.ID)); err != nil || got.PostID != c.PostID {
				t.Errorf("comment %d: Get = %+v, %v", i, got, err)
			}
		}
	}
	if n, err := db.Comments.CountAllShards(ctx); err != nil || n != int64(written) || written == 0 {
		t.Errorf("comments stored: %d, %v; want the %d of server a", n, err, written)
	}

	// In a transaction: the rows of its shard, and a row of another shard
	// refused before anything is written.
	const author = 7
	other := int64(author + 1)
	for blog.ShardOfInt64(other) == blog.ShardOfInt64(author) {
		other++
	}
	before, err := db.Posts.CountByKey(ctx, author)
	if err != nil {
		t.Fatal(err)
	}
	err = db.InBlogShard(ctx, author, func(tx *BlogTx) error {
		mixed := []*Post{{AuthorID: author, Title: "x"}, {AuthorID: other, Title: "y"}}
		if err := tx.Posts().InsertMany(ctx, mixed); !errors.Is(err, runtime.ErrWrongShard) {
			t.Errorf("tx InsertMany with a row of another shard: %v, want ErrWrongShard", err)
		}
		if mixed[0].ID != 0 {
			t.Errorf("refused batch set ID %d", mixed[0].ID)
		}
		if n, err := tx.Posts().CountByKey(ctx, author); err != nil || n != before {
			t.Errorf("refused batch wrote rows: %d, %v; want %d", n, err, before)
		}
		return tx.Posts().InsertMany(ctx, []*Post{{AuthorID: author, Title: "t1"}, {AuthorID: author, Title: "t2"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.Posts.CountByKey(ctx, author); err != nil || n != before+2 {
		t.Errorf("after the tx: %d posts of the author, %v; want %d", n, err, before+2)
	}

	// Database model: one statement; a duplicate inside the batch writes
	// nothing.
	users := []*User{{Email: "m1@example.com", Name: "1"}, {Email: "m2@example.com", Name: "2"}}
	if err := db.Users.InsertMany(ctx, users); err != nil || users[0].ID == 0 || users[1].ID <= users[0].ID {
		t.Fatalf("Users.InsertMany = %v, IDs %d %d", err, users[0].ID, users[1].ID)
	}
	if u, err := db.Users.GetByEmail(ctx, "m2@example.com"); err != nil || u.ID != users[1].ID {
		t.Errorf("GetByEmail after InsertMany = %+v, %v", u, err)
	}
	dup := []*User{{Email: "m3@example.com"}, {Email: "m1@example.com"}}
	if err := db.Users.InsertMany(ctx, dup); !isCode(err, "23505") || dup[0].ID != 0 {
		t.Errorf("InsertMany with a duplicate: %v (first ID %d), want a unique violation and no ID", err, dup[0].ID)
	}
	if _, err := db.Users.GetByEmail(ctx, "m3@example.com"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("a failed batch wrote a row: %v", err)
	}
	err = db.InDefaultTx(ctx, func(tx *DefaultTx) error {
		return tx.Users().InsertMany(ctx, []*User{{Email: "m4@example.com"}})
	})
	if err != nil {
		t.Fatal(err)
	}

	// More values than one statement takes (65,535): one key, so one
	// shard, and two statements in its pipeline.
	many := make([]*Counter, 33000)
	for i := range many {
		many[i] = &Counter{Name: "hits", Value: int64(i)}
	}
	if err := db.Counters.InsertMany(ctx, many); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Counters.CountByKey(ctx, "hits"); err != nil || n != int64(len(many)) {
		t.Fatalf("CountByKey after a split batch = %d, %v", n, err)
	}
	for _, i := range []int{0, 32767, 32768, len(many) - 1} {
		if got, err := db.Counters.Get(ctx, CounterID(many[i].ID)); err != nil || got.Value != int64(i) {
			t.Errorf("counter %d: Get = %+v, %v", i, got, err)
		}
	}
}

// TestStream streams every post of authors on both servers, in chunks and
// with read-ahead, breaks in the middle, checks that every connection is
// back in its pool, resumes from the persisted cursor, and streams the
// users of the default database.
func TestStream(t *testing.T) {
	db, r := open(t)
	ctx := context.Background()
	want := map[int64]bool{}
	for a := int64(1); a <= 12; a++ {
		for range 4 {
			id, err := db.Posts.Insert(ctx, &Post{AuthorID: a, Title: "t"})
			if err != nil {
				t.Fatal(err)
			}
			want[int64(id)] = true
		}
	}
	idle := func() {
		t.Helper()
		for _, st := range r.Stats() {
			if st.AcquiredConns != 0 {
				t.Fatalf("pool %s: %d connections still taken after the stream", st.Addr, st.AcquiredConns)
			}
		}
	}
	for _, par := range []int{1, 3} {
		var p runtime.StreamProgress
		var got []*Post
		for row, err := range db.Posts.StreamAllShards(ctx, runtime.StreamOptions{Chunk: 3, Parallel: par, Progress: &p}) {
			if err != nil {
				t.Fatal(err)
			}
			if n := len(got); n > 0 {
				prev := PostID(got[n-1].ID)
				if cur := PostID(row.ID); cur.Shard() < prev.Shard() || cur.Shard() == prev.Shard() && cur <= prev {
					t.Fatalf("row %d (shard %d) after %d (shard %d): not in stream order", cur, cur.Shard(), prev, prev.Shard())
				}
			}
			got = append(got, row)
		}
		if len(got) != len(want) || p.Rows != int64(len(want)) || p.ShardsDone != 16 || p.Shards != 16 {
			t.Fatalf("parallel %d: %d rows, progress %+v; want %d rows over 16 shards", par, len(got), p, len(want))
		}
		for _, row := range got {
			if !want[row.ID] || row.Title != "t" {
				t.Fatalf("streamed %+v", row)
			}
		}
		idle()

		// Break after 20 rows, then resume from the cursor a job would
		// have saved: the row of the break comes again, then the rest.
		p = runtime.StreamProgress{}
		var first []int64
		for row, err := range db.Posts.StreamAllShards(ctx, runtime.StreamOptions{Chunk: 3, Parallel: par, Progress: &p}) {
			if err != nil {
				t.Fatal(err)
			}
			if len(first) == 20 {
				break
			}
			first = append(first, row.ID)
		}
		idle()
		cur := p.Cursor
		if p.Rows != 20 || cur.After != first[19] || cur.Shard != PostID(first[19]).Shard() {
			t.Fatalf("progress at the break: %+v, want the cursor at row %d", p, first[19])
		}
		seen := map[int64]bool{}
		for _, id := range first {
			seen[id] = true
		}
		for row, err := range db.Posts.StreamAllShards(ctx, runtime.StreamOptions{Chunk: 3, Parallel: par, From: cur}) {
			if err != nil {
				t.Fatal(err)
			}
			if seen[row.ID] {
				t.Fatalf("resumed stream repeats row %d", row.ID)
			}
			seen[row.ID] = true
		}
		if len(seen) != len(want) {
			t.Fatalf("before the break and after resuming: %d rows, want %d", len(seen), len(want))
		}
		idle()
	}

	for i := range 5 {
		if _, err := db.Users.Insert(ctx, &User{Email: PostID(i).String() + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	var p runtime.StreamProgress
	var emails []string
	for u, err := range db.Users.Stream(ctx, runtime.StreamOptions{Chunk: 2, Progress: &p}) {
		if err != nil {
			t.Fatal(err)
		}
		emails = append(emails, u.Email)
	}
	if len(emails) != 5 || emails[0] != "0@example.com" || emails[4] != "4@example.com" || p.ShardsDone != 1 || p.Shards != 1 {
		t.Fatalf("Users.Stream: %v, progress %+v", emails, p)
	}
	idle()
}

// TestTxOptions runs the generated transaction entry points with options:
// the isolation level and read-only mode reach BEGIN, on a shard and on a
// database, and a write in a read-only transaction fails without a retry.
func TestTxOptions(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	var level, readOnly string
	err := db.InBlogShardWith(ctx, 3, runtime.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly}, func(tx *BlogTx) error {
		return tx.Tx().Pgx().QueryRow(ctx, "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')").Scan(&level, &readOnly)
	})
	if err != nil || level != "serializable" || readOnly != "on" {
		t.Fatalf("InBlogShardWith serializable read-only: %q %q, %v", level, readOnly, err)
	}
	calls := 0
	err = db.InBlogShardWith(ctx, 3, runtime.TxOptions{AccessMode: pgx.ReadOnly, Attempts: 3}, func(tx *BlogTx) error {
		calls++
		_, err := tx.Posts().Insert(ctx, &Post{AuthorID: 3, Title: "t"})
		return err
	})
	if !isCode(err, "25006") || calls != 1 {
		t.Fatalf("insert in a read-only shard transaction: %v after %d calls, want SQLSTATE 25006 once", err, calls)
	}
	err = db.InDefaultTxWith(ctx, runtime.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx *DefaultTx) error {
		return tx.Tx().Pgx().QueryRow(ctx, "SELECT current_setting('transaction_isolation')").Scan(&level)
	})
	if err != nil || level != "repeatable read" {
		t.Fatalf("InDefaultTxWith repeatable read: %q, %v", level, err)
	}
	err = db.InDefaultTx(ctx, func(tx *DefaultTx) error {
		return tx.Tx().Pgx().QueryRow(ctx, "SELECT current_setting('transaction_isolation')").Scan(&level)
	})
	if err != nil || level != "read committed" {
		t.Fatalf("InDefaultTx: %q, %v", level, err)
	}
}

// TestUpsertAndVersion runs UpsertBy<Field> on the primary key and on a
// unique field of a database model and of a sharded one, and the
// optimistic concurrency of a versioned Update.
func TestUpsertAndVersion(t *testing.T) {
	db, r := open(t)
	ctx := context.Background()
	metrics, err := r.Group("metrics")
	if err != nil {
		t.Fatal(err)
	}

	// Database model.
	u := &User{Email: "up@example.com", Name: "first"}
	id, err := db.Users.UpsertByEmail(ctx, u)
	if err != nil || id == 0 || int64(id) != u.ID {
		t.Fatalf("UpsertByEmail (insert) = %d, %v (row ID %d)", id, err, u.ID)
	}
	again := &User{Email: "up@example.com", Name: "second", ID: 999}
	if id2, err := db.Users.UpsertByEmail(ctx, again); err != nil || id2 != id || again.ID != int64(id) {
		t.Fatalf("UpsertByEmail (update) = %d, %v, want ID %d", id2, err, id)
	}
	if got, err := db.Users.Get(ctx, id); err != nil || got.Name != "second" {
		t.Fatalf("after UpsertByEmail: %+v, %v", got, err)
	}
	byID := &User{Email: "new@example.com", Name: "by id"}
	nid, err := db.Users.UpsertByID(ctx, byID)
	if err != nil || nid == 0 || nid == id {
		t.Fatalf("UpsertByID with ID 0 = %d, %v, want a new ID", nid, err)
	}
	byID.Name = "by id, updated"
	if got, err := db.Users.UpsertByID(ctx, byID); err != nil || got != nid {
		t.Fatalf("UpsertByID of an existing row = %d, %v, want %d", got, err, nid)
	}
	if got, err := db.Users.GetByEmail(ctx, "new@example.com"); err != nil || got.Name != "by id, updated" {
		t.Fatalf("after UpsertByID: %+v, %v", got, err)
	}
	// The identity sequence was used: Insert still mints a fresh ID.
	if iid, err := db.Users.Insert(ctx, &User{Email: "after@example.com"}); err != nil || iid == id || iid == nid {
		t.Fatalf("Insert after upserts = %d, %v", iid, err)
	}
	if n, err := db.Users.Count(ctx); err != nil || n != 3 {
		t.Errorf("Users.Count = %d, %v, want 3", n, err)
	}

	// Sharded model with a row version.
	l := &Label{Owner: "ann", Slug: "s1", Color: "red"}
	lid, err := db.Labels.UpsertBySlug(ctx, l)
	if err != nil || lid.Shard() != metrics.ShardOfString("ann") || l.Rev != 0 {
		t.Fatalf("UpsertBySlug (insert) = %d, %v, Rev %d", lid, err, l.Rev)
	}
	l2 := &Label{Owner: "ann", Slug: "s1", Color: "blue"}
	if got, err := db.Labels.UpsertBySlug(ctx, l2); err != nil || got != lid || l2.Rev != 1 {
		t.Fatalf("UpsertBySlug (update) = %d, %v, Rev %d; want %d, Rev 1", got, err, l2.Rev, lid)
	}
	same := "ann2"
	for metrics.ShardOfString(same) != metrics.ShardOfString("ann") {
		same += "x"
	}
	if _, err := db.Labels.UpsertBySlug(ctx, &Label{Owner: same, Slug: "s1", Color: "green"}); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("UpsertBySlug over a row of another key on the shard: %v, want ErrConflict", err)
	}
	if got, err := db.Labels.Get(ctx, lid); err != nil || got.Owner != "ann" || got.Color != "blue" || got.Rev != 1 {
		t.Fatalf("after upserts: %+v, %v", got, err)
	}
	other := "bob"
	for metrics.ShardOfString(other) == metrics.ShardOfString("ann") {
		other += "b"
	}
	if _, err := db.Labels.UpsertByID(ctx, &Label{ID: int64(lid), Owner: other, Slug: "x"}); !errors.Is(err, runtime.ErrWrongShard) {
		t.Errorf("UpsertByID with a key of another shard than the ID: %v, want ErrWrongShard", err)
	}
	if _, err := db.Labels.UpsertByID(ctx, &Label{ID: int64(lid), Owner: same, Slug: "s1"}); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("UpsertByID over a row of another key: %v, want ErrConflict", err)
	}
	pl := &Label{Owner: "ann", Slug: "s2", Color: "red"}
	pid, err := db.Labels.UpsertByID(ctx, pl)
	if err != nil || pid == 0 || pid == lid {
		t.Fatalf("UpsertByID with ID 0 = %d, %v", pid, err)
	}
	pl.Color = "white"
	if got, err := db.Labels.UpsertByID(ctx, pl); err != nil || got != pid || pl.Rev != 1 {
		t.Fatalf("UpsertByID (update) = %d, %v, Rev %d", got, err, pl.Rev)
	}
	err = db.InMetricsShard(ctx, "ann", func(tx *MetricsTx) error {
		if _, err := tx.Labels().UpsertBySlug(ctx, &Label{Owner: other, Slug: "t"}); !errors.Is(err, runtime.ErrWrongShard) {
			t.Errorf("tx UpsertBySlug with another shard's key: %v, want ErrWrongShard", err)
		}
		_, err := tx.Labels().UpsertBySlug(ctx, &Label{Owner: "ann", Slug: "s3"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Labels.GetBySlug(ctx, "ann", "s3"); err != nil {
		t.Errorf("tx upsert not committed: %v", err)
	}

	// Optimistic concurrency: two copies read at Rev 1; the first write
	// wins and bumps Rev, the second is a conflict and writes nothing.
	a, err := db.Labels.Get(ctx, lid)
	if err != nil {
		t.Fatal(err)
	}
	b := *a
	a.Color = "first"
	if err := db.Labels.Update(ctx, a); err != nil || a.Rev != 2 {
		t.Fatalf("versioned Update = %v, Rev %d, want Rev 2", err, a.Rev)
	}
	b.Color = "second"
	if err := db.Labels.Update(ctx, &b); !errors.Is(err, runtime.ErrConflict) || b.Rev != 1 {
		t.Fatalf("stale Update = %v (Rev %d), want ErrConflict and Rev left at 1", err, b.Rev)
	}
	if got, err := db.Labels.Get(ctx, lid); err != nil || got.Color != "first" || got.Rev != 2 {
		t.Fatalf("after the conflict: %+v, %v", got, err)
	}
	err = db.InMetricsShard(ctx, "ann", func(tx *MetricsTx) error {
		a.Color = "in tx"
		return tx.Labels().Update(ctx, a)
	})
	if err != nil || a.Rev != 3 {
		t.Fatalf("versioned Update in a tx = %v, Rev %d", err, a.Rev)
	}
	if err := db.Labels.Delete(ctx, lid); err != nil {
		t.Fatal(err)
	}
	if err := db.Labels.Update(ctx, a); !errors.Is(err, runtime.ErrNotFound) || errors.Is(err, runtime.ErrConflict) {
		t.Errorf("versioned Update of a deleted row: %v, want ErrNotFound only", err)
	}
}

func TestEveryTypeRoundTrips(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	s := "text"
	now := time.Date(2026, 11, 22, 3, 4, 5, 123456000, time.UTC)
	pu := UUID{9, 8, 7}
	full := &Sample{
		I16: math.MinInt16, I32: math.MaxInt32, I64: math.MinInt64, U32: math.MaxUint32,
		F32: 1.5, F64: math.Pi, B: true, S: "héllo", Raw: []byte{0, 1, 2},
		T: now, U: [16]byte{1, 2, 3}, NamedU: UUID{4, 5, 6}, PU: &pu,
		Tags: []string{"a", "b,c", ""}, Nums: []int64{1, -2, math.MaxInt64},
		RawJSON: json.RawMessage(` + "`" + `{"k":[1,2]}` + "`" + `),
		Prefs:   Prefs{Theme: "dark", Size: 3}, PPrefs: &Prefs{Theme: "light"},
		Meta:    map[string]any{"n": 1.5, "s": "x"},
		NS:      sql.NullString{String: "ns", Valid: true}, PS: &s, PT: &now,
		D:       pgtype.Date{Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Valid: true},
		N:       pgtype.Numeric{Int: big.NewInt(12345), Exp: -2, Valid: true},
		PgU:     pgtype.UUID{Bytes: [16]byte{7}, Valid: true},
	}
	batch := []*Sample{{}, {}}
	*batch[0], *batch[1] = *full, Sample{}
	if err := db.Samples.InsertMany(ctx, batch); err != nil {
		t.Fatalf("InsertMany: %v", err)
	}
	for name, in := range map[string]*Sample{"full": full, "zero": {}, "full InsertMany": batch[0], "zero InsertMany": batch[1]} {
		id := SampleID(in.ID)
		if in.ID == 0 {
			var err error
			if id, err = db.Samples.Insert(ctx, in); err != nil {
				t.Fatalf("%s: Insert: %v", name, err)
			}
		}
		out, err := db.Samples.Get(ctx, id)
		if err != nil {
			t.Fatalf("%s: Get: %v", name, err)
		}
		opts := cmp.Options{
			cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
			cmp.Comparer(func(a, b pgtype.Numeric) bool {
				fa, _ := a.Float64Value()
				fb, _ := b.Float64Value()
				return fa == fb
			}),
			// jsonb normalises spacing and key order: compare JSON values.
			// (The comparer also sees []byte fields, which are not JSON.)
			cmp.Comparer(func(a, b json.RawMessage) bool {
				var va, vb any
				if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
					return bytes.Equal(a, b) && (a == nil) == (b == nil)
				}
				return cmp.Equal(va, vb)
			}),
		}
		// Field by field, so that a difference names its field.
		vin, vout := reflect.ValueOf(in).Elem(), reflect.ValueOf(out).Elem()
		for i := range vin.NumField() {
			fname := vin.Type().Field(i).Name
			if fname == "ID" {
				continue
			}
			if diff := cmp.Diff(vin.Field(i).Interface(), vout.Field(i).Interface(), opts); diff != "" {
				t.Errorf("%s: field %s differs after a round trip (-in +out):\n%s", name, fname, diff)
			}
		}
	}
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
`
