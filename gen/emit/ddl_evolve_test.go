package emit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// TestDDLIsAdditive pins the shape of the declarative migration: every
// statement can run again on a schema an earlier model created.
func TestDDLIsAdditive(t *testing.T) {
	targets, err := ddl.Targets(blogPackage())
	if err != nil {
		t.Fatal(err)
	}
	var sql string
	for _, tg := range targets {
		if len(tg.Migrations) != 1 || !tg.Migrations[0].Declarative || tg.Migrations[0].Version != 1 {
			t.Errorf("%s: migrations %+v, want one declarative version 1", tg.Title, tg.Migrations)
		}
		sql += tg.Migrations[0].SQL
	}
	for _, want := range []string{
		// Every column but the primary key and the shard key, NOT NULL ones
		// with the zero value of their Go type for existing rows...
		"ALTER TABLE \"public\".\"samples\"\n    ADD COLUMN IF NOT EXISTS \"i16\" smallint NOT NULL DEFAULT 0,\n",
		`ADD COLUMN IF NOT EXISTS "f64" double precision NOT NULL DEFAULT 0,`,
		`ADD COLUMN IF NOT EXISTS "b" boolean NOT NULL DEFAULT false,`,
		`ADD COLUMN IF NOT EXISTS "s" text NOT NULL DEFAULT '',`,
		`ADD COLUMN IF NOT EXISTS "t" timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',`,
		`ADD COLUMN IF NOT EXISTS "u" uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',`,
		// (kept as their default, so the previous version's inserts, which
		// do not name them, keep working), nullable ones without one.
		`ADD COLUMN IF NOT EXISTS "raw" bytea,`, `ADD COLUMN IF NOT EXISTS "pt" timestamptz,`, `ADD COLUMN IF NOT EXISTS "pg_u" uuid;`,
		"ALTER TABLE @schema@.\"posts\"\n    ADD COLUMN IF NOT EXISTS \"title\" text NOT NULL DEFAULT '',\n",
		// Constraints other than the primary key, when missing.
		"IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = '\"public\".\"users\"'::pg_catalog.regclass AND conname = 'users_email_key') THEN\n" +
			"        ALTER TABLE \"public\".\"users\" ADD CONSTRAINT \"users_email_key\" UNIQUE (\"email\");\n",
		"ALTER TABLE @schema@.\"comments\" ADD CONSTRAINT \"comments_post_id_fkey\" FOREIGN KEY (\"post_author_id\", \"post_id\") REFERENCES @schema@.\"posts\" (\"author_id\", \"id\");",
		`CREATE INDEX IF NOT EXISTS "posts_title_idx" ON @schema@."posts" ("title");`,
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("DDL lacks\n%s", want)
		}
	}
	for _, never := range []string{
		`ADD COLUMN IF NOT EXISTS "id"`, `ADD COLUMN IF NOT EXISTS "author_id"`, `ADD COLUMN IF NOT EXISTS "post_author_id"`,
		`ADD CONSTRAINT "posts_pkey"`, "DROP COLUMN", "DROP TABLE", "DROP CONSTRAINT", "DROP INDEX", "DROP NOT NULL", "DROP DEFAULT", " TYPE ",
	} {
		if strings.Contains(sql, never) {
			t.Errorf("DDL has %s", never)
		}
	}
}

// specOf is the runtime.Spec that specDecl writes as Go code for targets.
func specOf(targets []ddl.Target) runtime.Spec {
	var s runtime.Spec
	conv := func(ms []ddl.Migration) []runtime.Migration {
		out := make([]runtime.Migration, len(ms))
		for i, m := range ms {
			out[i] = runtime.Migration{Version: m.Version, Name: m.Name, SQL: m.SQL, Declarative: m.Declarative}
		}
		return out
	}
	for _, t := range targets {
		if t.Database != nil {
			s.Databases = append(s.Databases, runtime.DatabaseSpec{Name: t.Database.Name, Migrations: conv(t.Migrations)})
		} else {
			s.Groups = append(s.Groups, runtime.GroupSpec{Name: t.Group.Name, Shards: t.Group.Shards, Migrations: conv(t.Migrations)})
		}
	}
	return s
}

// blogV1 is an earlier version of blogPackage: users without a name and
// with a plain email, samples with one column, posts without title and
// created_at, no comments, page views on the default database without
// sessions, and no group metrics. blogPackage is what the models became.
func blogV1() *model.Package {
	p := blogPackage()
	byName := map[string]*model.Model{}
	for _, m := range p.Models {
		byName[m.GoName] = m
	}
	user, post, view, sample := byName["User"], byName["Post"], byName["PageView"], byName["Sample"]
	def, blog := p.Databases[0], p.Groups[0]

	user.Fields = user.Fields[:2] // ID, Email
	user.Fields[1].Unique = false
	post.Fields = []*model.Field{post.PK, post.ShardKey, post.Fields[3]} // ID, AuthorID, Body
	sample.Fields = []*model.Field{sample.PK, sample.Fields[3]}          // ID, I64
	view.Placement, view.Database, view.Relations = model.OnDefault, def, nil
	view.Fields = []*model.Field{view.PK, view.Fields[2]} // ID, URL

	p.Models = []*model.Model{user, post, view, sample}
	def.Models = []*model.Model{user, sample, view}
	p.Databases[1].Models = nil
	blog.Models = []*model.Model{post}
	p.Groups = p.Groups[:1]
	return p
}

// TestSchemaEvolvesAgainstPostgreSQL migrates the DDL of blogV1, writes
// rows, then migrates the DDL generated for blogPackage (new columns of
// every kind, NOT NULL ones included, a new unique constraint and index, a
// new model with a foreign key, a model moved to another database, a new
// shard group) over it: every database and shard is migrated, old rows
// read the new columns' Go zero values, and a second run is a no-op.
func TestSchemaEvolvesAgainstPostgreSQL(t *testing.T) {
	ctx := context.Background()
	_, urls := pgtest.NewDatabase(t, 2, "app")
	open := func(spec runtime.Spec) *runtime.Router {
		t.Helper()
		cfg := runtime.Config{
			Databases: map[string]string{},
			Groups:    map[string][]runtime.ServerConfig{},
			Pool:      runtime.PoolConfig{MaxConns: 4, AcquireTimeout: 5 * time.Second},
		}
		for i, d := range spec.Databases {
			cfg.Databases[d.Name] = urls[i%2]
		}
		for _, g := range spec.Groups {
			half := g.Shards / 2
			cfg.Groups[g.Name] = []runtime.ServerConfig{
				{Name: "a", URL: urls[0], Shards: "0-" + strconv.Itoa(half-1)},
				{Name: "b", URL: urls[1], Shards: strconv.Itoa(half) + "-" + strconv.Itoa(g.Shards-1)},
			}
		}
		r, err := runtime.Open(ctx, cfg, spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	specFor := func(p *model.Package) runtime.Spec {
		t.Helper()
		targets, err := ddl.Targets(p)
		if err != nil {
			t.Fatal(err)
		}
		return specOf(targets)
	}
	type report struct{ applied, total int }
	migrate := func(r *runtime.Router, spec runtime.Spec) report {
		t.Helper()
		var rep report
		err := runtime.Migrate(ctx, r, spec, runtime.MigrateOptions{Progress: func(p runtime.MigrateProgress) {
			rep.total++
			if len(p.Applied) > 0 {
				rep.applied++
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	exec := func(e runtime.Executor, q *runtime.Query, args ...any) error {
		_, err := e.Exec(ctx, q, args...)
		return err
	}

	// Version 1 of the models, with rows.
	v1 := specFor(blogV1())
	r1 := open(v1)
	if rep := migrate(r1, v1); rep.applied != 1+16 {
		t.Fatalf("v1 migrated %d schemas, want 17", rep.applied)
	}
	def1, _ := r1.Database("default")
	blog1, _ := r1.Group("blog")
	for _, step := range []struct {
		e   runtime.Executor
		sql string
	}{
		{def1.Target(), `INSERT INTO @schema@.users (email) VALUES ('ada@example.com')`},
		{def1.Target(), `INSERT INTO @schema@.samples (i64) VALUES (7)`},
		{def1.Target(), `INSERT INTO @schema@.page_views (url) VALUES ('/old')`},
	} {
		if err := exec(step.e, def1.Prepare(step.sql)); err != nil {
			t.Fatal(err)
		}
	}
	insertPost := blog1.Prepare(`INSERT INTO @schema@.posts (author_id, body) VALUES ($1, 'old') RETURNING id`)
	postIDs := make([]int64, 16)
	for s := range runtime.Shard(16) {
		if err := blog1.At(s).QueryRow(ctx, insertPost, int64(s)).Scan(&postIDs[s]); err != nil {
			t.Fatal(err)
		}
	}

	// Version 2: the models as blogPackage has them, regenerated.
	v2 := specFor(blogPackage())
	r2 := open(v2)
	// default and blog change; analytics and metrics are new.
	if rep := migrate(r2, v2); rep.applied != rep.total || rep.total != 2+16+8 {
		t.Fatalf("v2 migrated %d of %d schemas, want all of 26", rep.applied, rep.total)
	}
	if rep := migrate(r2, v2); rep.applied != 0 {
		t.Errorf("a second run of v2 migrated %d schemas", rep.applied)
	}

	def, _ := r2.Database("default")
	analytics, _ := r2.Database("analytics")
	blog, _ := r2.Group("blog")
	metrics, _ := r2.Group("metrics")

	// Old rows read the Go zero value of each new NOT NULL column and nil
	// for nullable ones.
	var name string
	if err := def.Target().QueryRow(ctx, def.Prepare(`SELECT name FROM @schema@.users WHERE email = 'ada@example.com'`)).Scan(&name); err != nil || name != "" {
		t.Errorf("users.name of an old row = %q, %v", name, err)
	}
	var (
		i16     int16
		i32     int32
		i64     int64
		u32     int64
		f32     float32
		f64     float64
		b       bool
		s       string
		ts      time.Time
		u, nu   [16]byte
		raw     []byte
		tags    []string
		ps      *string
		pt      *time.Time
		rawJSON []byte
	)
	err := def.Target().QueryRow(ctx, def.Prepare(`SELECT i16, i32, i64, u32, f32, f64, b, s, t, u, named_u, raw, tags, ps, pt, raw_json FROM @schema@.samples`)).
		Scan(&i16, &i32, &i64, &u32, &f32, &f64, &b, &s, &ts, &u, &nu, &raw, &tags, &ps, &pt, &rawJSON)
	if err != nil {
		t.Fatal(err)
	}
	if i16 != 0 || i32 != 0 || i64 != 7 || u32 != 0 || f32 != 0 || f64 != 0 || b || s != "" || !ts.IsZero() || u != [16]byte{} || nu != [16]byte{} ||
		raw != nil || tags != nil || ps != nil || pt != nil || rawJSON != nil {
		t.Errorf("old sample row reads %v %v %v %v %v %v %v %q %v %v %v %v %v %v %v %v", i16, i32, i64, u32, f32, f64, b, s, ts, u, nu, raw, tags, ps, pt, rawJSON)
	}
	getPost := blog.Prepare(`SELECT id, body, title, created_at FROM @schema@.posts WHERE author_id = $1`)
	for sh := range runtime.Shard(16) {
		var id int64
		var body, title string
		var created time.Time
		if err := blog.At(sh).QueryRow(ctx, getPost, int64(sh)).Scan(&id, &body, &title, &created); err != nil {
			t.Fatalf("shard %d: %v", sh, err)
		}
		if id != postIDs[sh] || body != "old" || title != "" || !created.IsZero() {
			t.Errorf("shard %d: old post reads (%d, %q, %q, %s)", sh, id, body, title, created)
		}
	}

	// New NOT NULL columns keep their zero value as default: an insert of
	// the previous version, which does not name them, still succeeds
	// during a rolling deploy.
	if err := exec(def.Target(), def.Prepare(`INSERT INTO @schema@.users (email) VALUES ('bob@example.com')`)); err != nil {
		t.Errorf("insert of version 1 (without users.name): %v", err)
	}
	var bobName string
	if err := def.Target().QueryRow(ctx, def.Prepare(`SELECT name FROM @schema@.users WHERE email = 'bob@example.com'`)).Scan(&bobName); err != nil || bobName != "" {
		t.Errorf("version 1's row reads name %q (%v), want the zero value", bobName, err)
	}
	// The unique constraint now holds on the old table.
	if err := exec(def.Target(), def.Prepare(`INSERT INTO @schema@.users (email, name) VALUES ('ada@example.com', 'again')`)); !isPgCode(err, "23505") {
		t.Errorf("duplicate email: %v, want unique_violation", err)
	}
	// The new index exists in every shard; the new model is there, with a
	// foreign key to the old table.
	var indexes int
	if err := blog.At(9).QueryRow(ctx, blog.Prepare(`SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'posts_title_idx' AND relkind = 'i' AND relnamespace = '@schema@'::regnamespace`)).Scan(&indexes); err != nil || indexes != 1 {
		t.Errorf("posts_title_idx in shard 9: %d, %v", indexes, err)
	}
	addComment := blog.Prepare(`INSERT INTO @schema@.comments (post_author_id, post_id, text) VALUES ($1, $2, 'hi')`)
	if err := exec(blog.At(9), addComment, int64(9), postIDs[9]); err != nil {
		t.Errorf("comment on an old post: %v", err)
	}
	if err := exec(blog.At(9), addComment, int64(9), postIDs[9]+1); !isPgCode(err, "23503") {
		t.Errorf("comment on a missing post: %v, want foreign_key_violation", err)
	}
	// The moved model's table is created on its new database; the old
	// table, with its rows, stays where it was (moving rows is the
	// application's job).
	if err := exec(analytics.Target(), analytics.Prepare(`INSERT INTO @schema@.page_views (url) VALUES ('/new')`)); err != nil {
		t.Errorf("page_views on analytics: %v", err)
	}
	var oldViews int
	if err := def.Target().QueryRow(ctx, def.Prepare(`SELECT count(*) FROM @schema@.page_views`)).Scan(&oldViews); err != nil || oldViews != 1 {
		t.Errorf("page_views left on default: %d, %v", oldViews, err)
	}
	if err := exec(metrics.At(3), metrics.Prepare(`INSERT INTO @schema@.counters (name, value) VALUES ('x', 1)`)); err != nil {
		t.Errorf("counters in the new group: %v", err)
	}
}

func isPgCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
