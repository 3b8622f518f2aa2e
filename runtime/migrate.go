package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// MigrationsTable is the history table Migrate keeps in every schema it
// migrates ("public" of each database, and each logical shard's schema):
// one row per application of a migration, keyed by (target, version, seq).
// The target is the database's name, or the group's name in a shard
// schema, so that two logical databases kept on one physical database
// (both in its schema "public") have separate histories. seq counts the
// applications of one version: always 1 for an ordinary migration, 1, 2,
// ... for a declarative one applied again after its SQL changed.
const MigrationsTable = "shardgen_migrations"

// migrateLockKey is the transaction-level advisory lock a database's
// migration takes before touching schema "public": logical databases that
// share a physical database share its history table, and creating it (or
// altering their tables) from two transactions at once could fail on the
// catalog's unique indexes. The value spells "sgmg" in its high word.
const migrateLockKey = 0x73676d67_00000001

// schemaLockClass is the high word of the advisory lock a shard schema's
// migration takes before creating or changing the schema ("sgms"); the low
// word is a hash of the schema's name. Two Migrate runs (two replicas
// starting at once) thus take turns on each schema: the second waits for
// the first's transaction, then finds its history row and the schema up to
// date. A hash collision only makes two schemas take turns.
const schemaLockClass = 0x73676d73

func schemaLockKey(schema string) int64 {
	h := fnv.New32a()
	h.Write([]byte(schema))
	return int64(schemaLockClass)<<32 | int64(h.Sum32())
}

// IDFunctionVersion is the migration version under which Migrate installs
// the per-shard ID function (Layout.IDFunctionSQL) in every logical shard,
// before the group's own migrations, which start at version 1 and may use
// @schema@.shardgen_next_id() as a column default. It is declarative (a
// newer shardgen's function replaces an older one) and named after its
// layout, so that a different layout is refused, not installed.
const IDFunctionVersion = 0

// maxMigrationName is the longest Migration.Name the history table holds.
const maxMigrationName = 200

// maxCollisions bounds how often one schema's application may find that a
// concurrent run applied it first before Migrate stops retrying it.
const maxCollisions = 3

// verifyTimeout bounds the check, after a failure, of which schemas are in
// fact migrated (their COMMIT may have landed without the run hearing of
// it, or a concurrent run may have migrated them).
const verifyTimeout = 10 * time.Second

// Defaults of MigrateOptions.
const (
	DefaultMigrateConnsPerServer = 4
	DefaultMigrateBatch          = 32
	DefaultMigrateLockTimeout    = 5 * time.Second
)

// ErrChecksumMismatch reports that a migration version already applied to a
// schema was applied with different SQL than the Spec now has. Ordinary
// migrations are append-only: add a new version instead of editing an
// applied one. (A Declarative migration is applied again instead.) A
// different Spec.Layout than the one a shard's ID function was installed
// with is also a mismatch.
var ErrChecksumMismatch = errors.New("applied migration has a different checksum")

// MigrateOptions tunes Migrate. The zero value is ready to use.
type MigrateOptions struct {
	// ConnsPerServer bounds the connections Migrate uses on each physical
	// server (each pool), and so the schemas migrated at once there.
	// Default DefaultMigrateConnsPerServer; never more than the pool's
	// MaxConns, since Migrate takes connections from the Router's pools.
	ConnsPerServer int
	// Batch is how many schemas are sent in one round trip, each in its
	// own transaction. Default DefaultMigrateBatch.
	Batch int
	// LockTimeout bounds every lock wait of a schema's transaction
	// (SET LOCAL lock_timeout): a schema whose tables are locked by a long
	// transaction, or that another Migrate holds for longer, fails with
	// the server's lock_timeout error instead of hanging the run. Default
	// DefaultMigrateLockTimeout.
	LockTimeout time.Duration
	// Progress, when set, is called once per database and logical shard as
	// it finishes (migrated, already up to date, or failed). Calls are
	// never concurrent. Schemas that failed are reported last, after the
	// run has verified that they are indeed not migrated.
	Progress func(MigrateProgress)
	// Shards, when set, limits the run to the logical shards it accepts
	// (databases are still migrated; give a Spec without them to skip
	// them). The mover (package runtime/move) uses it to create the
	// schemas of the shards it moves on their new server.
	Shards func(group string, s Shard) bool
	// Logger, when set, receives a start and end line per run and per
	// server at Info, each failure at Warn and each finished schema at
	// Debug. Server addresses in logs never contain passwords.
	Logger *slog.Logger
}

// MigrateProgress describes one database or logical shard that finished.
type MigrateProgress struct {
	Database string // the database, or "" for a logical shard
	Group    string // the shard group, or "" for a database
	Shard    Shard  // the logical shard, or -1 for a database
	Schema   string // unquoted schema ("public" for a database)
	Server   string // the physical server's name
	Applied  []int  // versions applied now; empty when already up to date
	Err      error  // non-nil when this schema was not migrated
	Done     int    // databases and shards finished so far, this one included
	Total    int    // databases and shards in the run
}

// migration is a Migration with its checksum and, in a target's todo
// list, the seq its application gets in the history.
type migration struct {
	Migration
	sum string
	seq int
}

// migTarget is one schema to migrate: "public" of a database or one
// logical shard's schema. A target is handled by one goroutine at a time.
type migTarget struct {
	order  int    // position in the run, for sorting failures
	db     string // database name, or ""
	group  *Group // nil for a database
	shard  Shard  // -1 for a database
	server *Server
	schema string // quoted
	name   string // history target: the database's or the group's name
	migs   []migration
	digest string // of migs; see historyDigest

	// Filled by survey.
	todo       []migration // versions to apply
	hadHistory bool        // the schema has a history for this target: a change, not a creation

	collisions int  // times a concurrent run applied it first
	verify     bool // failed while applying: check at the end whether it is migrated after all
}

func (t *migTarget) fail(err error) *ShardError {
	e := &ShardError{Shard: t.shard, Server: t.server.name, Err: err}
	if t.group != nil {
		e.Group = t.group.name
	}
	return e
}

func (t *migTarget) render(sql string) string {
	if t.group == nil {
		return render(sql, t.schema, -1)
	}
	return render(sql, t.schema, t.shard)
}

func (t *migTarget) unquoted() string { return strings.Trim(t.schema, `"`) }

func (t *migTarget) progress() MigrateProgress {
	p := MigrateProgress{Database: t.db, Shard: t.shard, Schema: t.unquoted(), Server: t.server.name}
	if t.group != nil {
		p.Group = t.group.name
	}
	return p
}

// Migrate applies spec's migrations to every database (schema "public") and
// to every logical shard schema of every group that r routes, creating each
// shard's schema and installing the per-shard ID function first (version
// IDFunctionVersion).
//
// Each schema keeps its own history (MigrationsTable, per target). An
// ordinary migration already in the history is skipped, so a second run
// changes nothing, and a run that failed part-way is finished by running it
// again; one in the history whose checksum differs from the Spec's fails
// that schema with ErrChecksumMismatch. A Declarative migration is applied
// again, and its application recorded, whenever its checksum differs from
// the last one recorded for that schema: this is how the schema shardgen
// generates follows the models (see the package documentation,
// "Migrations and schema changes"). Pending migrations run in Spec order (ascending versions).
// Each schema's pending versions are applied in one transaction together
// with their history rows, so a schema is either fully migrated or
// untouched.
//
// Concurrent runs (every replica of an app calling Migrate at start-up)
// all succeed: each schema's transaction first takes that schema's
// advisory lock (bounded by LockTimeout and ctx), so one run applies it
// and the others, after waiting, find it up to date; the history has one
// row per application.
//
// No downgrade: a schema that a newer Spec migrated (its history has
// versions this Spec lacks, or this Spec's declarative SQL was applied
// before and other SQL since) is left unchanged. When that is the only
// reason a schema is not at spec, Migrate returns a *SchemaNewerError
// (errors.Is ErrSchemaNewer): the schema only grew, so this code works
// against it and may keep running.
//
// All or nothing per change: before changing any existing shard schema of
// a group, Migrate runs the group's pending change on every such shard in
// a transaction it rolls back (the preflight). If the change fails on any
// shard (a unique index over duplicate rows, NOT NULL over NULLs, a
// foreign key, ...), no shard of the group is changed, and the error names
// every failing shard with PostgreSQL's DETAIL and what to do
// (ErrChangeRejected). New schemas (no history yet) are not preflighted.
//
// The run is bounded: at most ConnsPerServer connections per server, Batch
// schemas per round trip, LockTimeout on every lock wait. Servers run in
// parallel; an unreachable server fails only its own schemas. On any
// failure Migrate still finishes every other schema, checks the histories
// of those that failed while being applied (the COMMIT may have landed, or
// another run may have migrated them) and returns a *MigrateError listing
// exactly the schemas not migrated.
func Migrate(ctx context.Context, r *Router, spec Spec, opts MigrateOptions) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if err := checkMigrationNames(spec); err != nil {
		return err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	layout, err := specLayout(r, spec)
	if err != nil {
		return err
	}
	idSQL, err := layout.IDFunctionSQL()
	if err != nil {
		return err
	}
	// A move in progress (package runtime/placement installs the guard)
	// refuses the run before anything is read or changed.
	release, err := r.migrateGuard(ctx)
	if err != nil {
		return err
	}
	defer release()
	targets, err := migTargets(r, spec, idSQL, layout, opts.Shards)
	if err != nil {
		return err
	}
	run := &migRun{opts: opts, total: len(targets)}
	byPool := map[*serverPool][]*migTarget{}
	var pools []*serverPool
	for _, t := range targets {
		sp := t.server.pool
		if _, ok := byPool[sp]; !ok {
			pools = append(pools, sp)
		}
		byPool[sp] = append(byPool[sp], t)
	}
	start := time.Now()
	run.log(slog.LevelInfo, "shardgen migrate: start", "schemas", len(targets), "servers", len(pools),
		"conns_per_server", opts.ConnsPerServer, "batch", opts.Batch, "lock_timeout", opts.LockTimeout)

	// 1. What does every schema need?
	pending := make([][]*migTarget, len(pools))
	eachPool(pools, func(i int, sp *serverPool) { pending[i] = run.readHistory(ctx, sp, byPool[sp]) })

	// 2. Preflight: every change to an existing shard schema, rolled back.
	if run.preflight(ctx, pools, pending) {
		for i := range pending {
			pending[i] = run.dropRejected(pending[i])
		}
	}

	// 3. Apply.
	eachPool(pools, func(i int, sp *serverPool) { run.pool(ctx, sp, pending[i], false) })

	// 4. Failures while applying may be migrated after all: look.
	run.verify(ctx)

	run.log(slog.LevelInfo, "shardgen migrate: done", "schemas", len(targets), "applied", run.applied,
		"up_to_date", run.done-run.applied, "failed", len(run.failed), "elapsed", time.Since(start).Round(time.Millisecond))
	return run.result()
}

// eachPool runs fn for every pool in parallel and waits.
func eachPool(pools []*serverPool, fn func(int, *serverPool)) {
	var wg sync.WaitGroup
	for i, sp := range pools {
		wg.Go(func() { fn(i, sp) })
	}
	wg.Wait()
}

// checkMigrationNames refuses names the history table cannot hold, before
// any schema is touched.
func checkMigrationNames(spec Spec) error {
	var p problems
	check := func(owner string, ms []Migration) {
		for _, m := range ms {
			if len(m.Name) > maxMigrationName {
				p.add("spec: %s: migration version %d has a name of %d bytes; at most %d fit the history table", owner, m.Version, len(m.Name), maxMigrationName)
			}
		}
	}
	for _, d := range spec.Databases {
		check("database "+d.Name, d.Migrations)
	}
	for _, g := range spec.Groups {
		check("group "+g.Name, g.Migrations)
	}
	return p.err()
}

// specLayout is the ID layout Migrate and CheckSchema install or expect: the
// Spec's, which must be the one r was opened with (its groups decode IDs
// with it).
func specLayout(r *Router, spec Spec) (Layout, error) {
	l := spec.IDLayout()
	if r != nil && !l.Equal(r.spec.IDLayout()) {
		return Layout{}, fmt.Errorf("shardgen migrate: the Spec's ID layout %s is not %s, the layout of the Spec the router was opened with", l, r.spec.IDLayout())
	}
	return l, nil
}

func (o MigrateOptions) withDefaults() (MigrateOptions, error) {
	if o.ConnsPerServer < 0 || o.Batch < 0 || o.LockTimeout < 0 {
		return o, fmt.Errorf("shardgen migrate: negative ConnsPerServer, Batch or LockTimeout")
	}
	if o.ConnsPerServer == 0 {
		o.ConnsPerServer = DefaultMigrateConnsPerServer
	}
	if o.Batch == 0 {
		o.Batch = DefaultMigrateBatch
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultMigrateLockTimeout
	}
	return o, nil
}

// checksum identifies a migration's SQL as written in the Spec (with its
// tokens), so it is the same for every shard.
func checksum(sql string) string {
	h := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(h[:])
}

// historyDigest summarises a complete history: the target and every
// version with its (latest) checksum. After a successful migration of a
// shard schema the history table's comment is "shardgen:" + this digest,
// so a run can tell from one catalog query per server that a schema is up
// to date, without reading thousands of history tables (each costs a
// relation open, expensive on a cold backend). The comment is only a
// cache: whenever it differs from the Spec's digest the history itself is
// read and compared. Databases do not use it: their history table in
// "public" may hold several targets, and they are few.
func historyDigest(target string, ms []migration) string {
	h := sha256.New()
	// The format marker keeps a table of an older format from ever
	// matching.
	fmt.Fprintf(h, "history 2 %s\n", target)
	for _, m := range ms {
		fmt.Fprintf(h, "%d:%s\n", m.Version, m.sum)
	}
	return "shardgen:" + hex.EncodeToString(h.Sum(nil))
}

func withSums(ms []Migration) []migration {
	out := make([]migration, len(ms))
	for i, m := range ms {
		out[i] = migration{Migration: m, sum: checksum(m.SQL), seq: 1}
	}
	return out
}

// idFunctionName is the history name of the ID function's migration: its
// layout is part of it, so a shard whose function was installed with
// another layout is recognised (ErrChecksumMismatch) instead of getting a
// function that mints different IDs.
func idFunctionName(l Layout) string { return IDFunctionName + " " + l.String() }

// migTargets lists every schema of the run in order: databases, then each
// group's shards.
func migTargets(r *Router, spec Spec, idSQL string, l Layout, only func(string, Shard) bool) ([]*migTarget, error) {
	var targets []*migTarget
	for _, ds := range spec.Databases {
		d, err := r.Database(ds.Name)
		if err != nil {
			return nil, fmt.Errorf("shardgen migrate: %w", err)
		}
		migs := withSums(ds.Migrations)
		targets = append(targets, &migTarget{db: d.name, name: d.name, shard: -1, server: d.server, schema: d.target.schema, migs: migs})
	}
	for _, gs := range spec.Groups {
		g, err := r.Group(gs.Name)
		if err != nil {
			return nil, fmt.Errorf("shardgen migrate: %w", err)
		}
		if g.nShards != gs.Shards {
			return nil, fmt.Errorf("shardgen migrate: group %s has %d shards in the Spec but %d in the Router", gs.Name, gs.Shards, g.nShards)
		}
		idf := Migration{Version: IDFunctionVersion, Name: idFunctionName(l), SQL: idSQL, Declarative: true}
		migs := withSums(append([]Migration{idf}, gs.Migrations...))
		digest := historyDigest(g.name, migs)
		for s := range g.nShards {
			if only != nil && !only(g.name, Shard(s)) {
				continue
			}
			targets = append(targets, &migTarget{group: g, name: g.name, shard: Shard(s), server: g.ServerOf(Shard(s)), schema: g.quoted[s], migs: migs, digest: digest})
		}
	}
	for i, t := range targets {
		t.order = i
	}
	return targets, nil
}

// migRun is the shared state of one Migrate call.
type migRun struct {
	opts  MigrateOptions
	total int

	mu      sync.Mutex // guards the fields below and serialises Progress
	done    int
	applied int
	failed  []failure                 // not (yet) migrated; reported at the end
	checked map[*migTarget]error      // preflight outcome of each change
	reject  map[*Group]*rejectedError // groups whose change failed the preflight
}

type failure struct {
	t   *migTarget
	err error
}

func (run *migRun) log(level slog.Level, msg string, args ...any) {
	if run.opts.Logger != nil {
		run.opts.Logger.Log(context.Background(), level, msg, args...)
	}
}

// finish records a schema as migrated or up to date, or (err non-nil, at
// the end of the run) as not migrated.
func (run *migRun) finish(t *migTarget, applied []int, err error) {
	run.mu.Lock()
	defer run.mu.Unlock()
	run.finishLocked(t, applied, err)
}

func (run *migRun) finishLocked(t *migTarget, applied []int, err error) {
	run.done++
	p := t.progress()
	p.Applied, p.Done, p.Total = applied, run.done, run.total
	if err != nil {
		p.Err = t.fail(err)
		run.log(slog.LevelWarn, "shardgen migrate: schema not migrated", "schema", p.Schema, "server", p.Server, "err", err)
	} else {
		if len(applied) > 0 {
			run.applied++
		}
		run.log(slog.LevelDebug, "shardgen migrate: schema done", "schema", p.Schema, "server", p.Server, "applied", applied, "done", p.Done, "total", p.Total)
	}
	if run.opts.Progress != nil {
		run.opts.Progress(p)
	}
}

// failAll records ts as not migrated. verify says whether they may be
// migrated after all (the failure happened while applying).
func (run *migRun) failAll(ts []*migTarget, err error, verify bool) {
	run.mu.Lock()
	defer run.mu.Unlock()
	for _, t := range ts {
		t.verify = verify
		run.failed = append(run.failed, failure{t: t, err: err})
	}
}

func (run *migRun) failOne(t *migTarget, err error, verify bool) {
	run.failAll([]*migTarget{t}, err, verify)
}

// verify reads again the histories of the schemas that failed while being
// applied, with a context of its own (the run's may have ended), and
// counts those now up to date as done. A schema that cannot be checked
// stays listed with its error.
func (run *migRun) verify(ctx context.Context) {
	byPool := map[*serverPool][]*migTarget{}
	var pools []*serverPool
	for _, f := range run.failed {
		if !f.t.verify {
			continue
		}
		sp := f.t.server.pool
		if _, ok := byPool[sp]; !ok {
			pools = append(pools, sp)
		}
		byPool[sp] = append(byPool[sp], f.t)
	}
	if len(pools) == 0 {
		return
	}
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), verifyTimeout)
	defer cancel()
	migrated := make([]map[*migTarget]bool, len(pools))
	eachPool(pools, func(i int, sp *serverPool) {
		ts := byPool[sp]
		c, err := sp.acquire(vctx)
		if err != nil {
			return
		}
		defer sp.release(c)
		errs, err := survey(vctx, sp, c.Conn(), ts)
		if err != nil {
			return
		}
		migrated[i] = map[*migTarget]bool{}
		for j, t := range ts {
			if errs[j] == nil && len(t.todo) == 0 {
				migrated[i][t] = true
			}
		}
	})
	run.failed = slices.DeleteFunc(run.failed, func(f failure) bool {
		for _, m := range migrated {
			if m[f.t] {
				run.finish(f.t, nil, nil)
				return true
			}
		}
		return false
	})
}

// result reports the failures, in Spec order, through Progress and as the
// run's error.
func (run *migRun) result() error {
	if len(run.failed) == 0 {
		return nil
	}
	slices.SortFunc(run.failed, func(a, b failure) int { return a.t.order - b.t.order })
	list := make([]*ShardError, len(run.failed))
	onlyNewer := true
	for i, f := range run.failed {
		run.finish(f.t, nil, f.err)
		list[i] = f.t.fail(f.err)
		onlyNewer = onlyNewer && errors.Is(f.err, ErrSchemaNewer)
	}
	if onlyNewer {
		return &SchemaNewerError{Schemas: list, Total: run.total}
	}
	return &MigrateError{Failed: list, Total: run.total}
}
