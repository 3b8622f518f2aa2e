package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
// catalog's unique indexes. Shard schemas belong to one group each and need
// no lock. The value spells "sgmg" in its high word.
const migrateLockKey = 0x73676d67_00000001

// IDFunctionVersion is the migration version under which Migrate installs
// the per-shard ID function (Layout.IDFunctionSQL) in every logical shard,
// before the group's own migrations, which start at version 1 and may use
// @schema@.shardgen_next_id() as a column default.
const IDFunctionVersion = 0

// maxMigrationName is the longest Migration.Name the history table holds.
const maxMigrationName = 200

// Defaults of MigrateOptions.
const (
	DefaultMigrateConnsPerServer = 4
	DefaultMigrateBatch          = 32
	DefaultMigrateLockTimeout    = 5 * time.Second
)

// ErrChecksumMismatch reports that a migration version already applied to a
// schema was applied with different SQL than the Spec now has. Ordinary
// migrations are append-only: add a new version instead of editing an
// applied one. (A Declarative migration is applied again instead.)
var ErrChecksumMismatch = errors.New("applied migration has a different checksum")

// MigrateOptions tunes Migrate. The zero value is ready to use.
type MigrateOptions struct {
	// Layout is the ID layout of the per-shard ID function; zero means
	// DefaultLayout(). Changing it for shards that already have the
	// function is a checksum mismatch, not a silent change of IDs.
	Layout Layout
	// ConnsPerServer bounds the connections Migrate uses on each physical
	// server (each pool), and so the schemas migrated at once there.
	// Default DefaultMigrateConnsPerServer; never more than the pool's
	// MaxConns, since Migrate takes connections from the Router's pools.
	ConnsPerServer int
	// Batch is how many schemas are sent in one round trip, each in its
	// own transaction. Default DefaultMigrateBatch.
	Batch int
	// LockTimeout bounds every lock wait of a schema's transaction
	// (SET LOCAL lock_timeout), so a schema whose tables are locked by a
	// long transaction fails with the server's lock_timeout error instead
	// of hanging the run. Default DefaultMigrateLockTimeout.
	LockTimeout time.Duration
	// Progress, when set, is called once per database and logical shard as
	// it finishes (migrated, already up to date, or failed). Calls are
	// never concurrent.
	Progress func(MigrateProgress)
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

// MigrateError lists exactly the databases and logical shards a Migrate run
// did not migrate: those whose migration failed, and those it never got to
// (their server unreachable, ctx ended). Each is a *ShardError naming the
// group and shard (Group "" and Shard -1 for a database) and the server.
// Running Migrate again migrates only those: every other schema's history
// already has every version.
type MigrateError struct {
	Failed []*ShardError // databases first, then groups, in Spec order; shards ascending
	Total  int           // databases and shards in the run
}

// Error summarises the failures, naming every failed shard.
func (e *MigrateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shardgen migrate: %d of %d schemas not migrated:", len(e.Failed), e.Total)
	group := "\x00"
	for i, f := range e.Failed {
		switch {
		case f.Group == "":
			fmt.Fprintf(&b, " database %s;", f.Server)
			group = "\x00"
		case f.Group != group:
			fmt.Fprintf(&b, " group %s shards %d", f.Group, f.Shard)
			group = f.Group
		default:
			fmt.Fprintf(&b, ",%d", f.Shard)
		}
		if f.Group != "" && (i+1 == len(e.Failed) || e.Failed[i+1].Group != f.Group) {
			b.WriteString(";")
		}
	}
	if len(e.Failed) > 0 {
		b.WriteString(" first error: ")
		b.WriteString(e.Failed[0].Error())
	}
	return b.String()
}

// Unwrap returns the per-schema errors, so errors.Is(err, ErrUnavailable)
// and errors.As(err, &pgErr) look into them.
func (e *MigrateError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f
	}
	return errs
}

// Shards returns the logical shards of group that were not migrated.
func (e *MigrateError) Shards(group string) []Shard {
	var out []Shard
	for _, f := range e.Failed {
		if f.Group == group && group != "" {
			out = append(out, f.Shard)
		}
	}
	return out
}

// Databases returns the databases that were not migrated.
func (e *MigrateError) Databases() []string {
	var out []string
	for _, f := range e.Failed {
		if f.Group == "" {
			out = append(out, f.Server)
		}
	}
	return out
}

// migration is a Migration with its checksum and, in a target's todo
// list, the seq its application gets in the history.
type migration struct {
	Migration
	sum string
	seq int
}

// applied is what a schema's history says about one version: its latest
// application.
type applied struct {
	seq int
	sum string
}

// migTarget is one schema to migrate: "public" of a database or one
// logical shard's schema.
type migTarget struct {
	order  int    // position in the run, for sorting failures
	db     string // database name, or ""
	group  *Group // nil for a database
	shard  Shard  // -1 for a database
	server *Server
	schema string // quoted
	name   string // history target: the database's or the group's name
	migs   []migration
	digest string      // of migs; see historyDigest
	todo   []migration // after reading the history: versions to apply
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

func (t *migTarget) progress() MigrateProgress {
	p := MigrateProgress{Database: t.db, Shard: t.shard, Schema: strings.Trim(t.schema, `"`), Server: t.server.name}
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
// Each schema's pending versions are applied in one
// transaction together with their history rows, so a schema is either fully
// migrated or untouched; the history row is inserted before the DDL runs,
// so two concurrent runs cannot both apply a version (the second waits on
// the first's row and then fails on the duplicate).
//
// The run is bounded: at most ConnsPerServer connections per server, Batch
// schemas per round trip, LockTimeout on every lock wait. Servers run in
// parallel; an unreachable server fails only its own schemas. On any
// failure Migrate still finishes every other schema and returns a
// *MigrateError listing exactly the schemas not migrated.
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
	idSQL, err := opts.Layout.IDFunctionSQL()
	if err != nil {
		return err
	}
	targets, err := migTargets(r, spec, idSQL)
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
	var wg sync.WaitGroup
	for _, sp := range pools {
		wg.Go(func() { run.pool(ctx, sp, byPool[sp]) })
	}
	wg.Wait()
	run.log(slog.LevelInfo, "shardgen migrate: done", "schemas", len(targets), "applied", run.applied,
		"up_to_date", run.done-run.applied-len(run.failed), "failed", len(run.failed), "elapsed", time.Since(start).Round(time.Millisecond))
	if len(run.failed) == 0 {
		return nil
	}
	slices.SortFunc(run.failed, func(a, b failure) int { return a.order - b.order })
	me := &MigrateError{Total: len(targets), Failed: make([]*ShardError, len(run.failed))}
	for i, f := range run.failed {
		me.Failed[i] = f.err
	}
	return me
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

func (o MigrateOptions) withDefaults() (MigrateOptions, error) {
	if o.Layout == (Layout{}) {
		o.Layout = DefaultLayout()
	}
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

// migTargets lists every schema of the run in order: databases, then each
// group's shards.
func migTargets(r *Router, spec Spec, idSQL string) ([]*migTarget, error) {
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
		migs := withSums(append([]Migration{{Version: IDFunctionVersion, Name: IDFunctionName, SQL: idSQL}}, gs.Migrations...))
		digest := historyDigest(g.name, migs)
		for s := range g.nShards {
			targets = append(targets, &migTarget{group: g, name: g.name, shard: Shard(s), server: g.byShard[s], schema: g.quoted[s], migs: migs, digest: digest})
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
	failed  []failure
}

type failure struct {
	order int
	err   *ShardError
}

func (run *migRun) log(level slog.Level, msg string, args ...any) {
	if run.opts.Logger != nil {
		run.opts.Logger.Log(context.Background(), level, msg, args...)
	}
}

// finish records a schema as migrated (err nil) or not.
func (run *migRun) finish(t *migTarget, applied []int, err error) {
	run.mu.Lock()
	defer run.mu.Unlock()
	run.done++
	p := t.progress()
	p.Applied, p.Done, p.Total = applied, run.done, run.total
	if err != nil {
		se := t.fail(err)
		run.failed = append(run.failed, failure{order: t.order, err: se})
		p.Err = se
		run.log(slog.LevelWarn, "shardgen migrate: schema not migrated", "schema", p.Schema, "server", p.Server, "err", se.Err)
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

func (run *migRun) failAll(ts []*migTarget, err error) {
	for _, t := range ts {
		run.finish(t, nil, err)
	}
}

// pool migrates the targets of one connection pool: it reads every
// schema's history in one pipelined round trip, then applies what is
// missing with up to ConnsPerServer connections, Batch schemas per round
// trip.
func (run *migRun) pool(ctx context.Context, sp *serverPool, targets []*migTarget) {
	start := time.Now()
	pending := run.readHistory(ctx, sp, targets)
	conns := min(run.opts.ConnsPerServer, cap(sp.sem), max(1, len(pending)))
	q := &migQueue{items: pending, alive: conns}
	var wg sync.WaitGroup
	if len(pending) > 0 {
		for range conns {
			wg.Go(func() { run.worker(ctx, sp, q) })
		}
	}
	wg.Wait()
	run.log(slog.LevelInfo, "shardgen migrate: server done", "server", sp.where, "schemas", len(targets),
		"to_apply", len(pending), "elapsed", time.Since(start).Round(time.Millisecond))
}

// readHistory fills each target's todo list and returns the targets with
// something to apply; it finishes the others (up to date, or failed). One
// catalog query tells, for every schema of the server, whether its history
// table exists and whether its digest comment matches the Spec; only the
// schemas where it does not are read, in one pipelined round trip.
func (run *migRun) readHistory(ctx context.Context, sp *serverPool, targets []*migTarget) []*migTarget {
	c, err := sp.acquire(ctx)
	if err != nil {
		run.failAll(targets, err)
		return nil
	}
	defer sp.release(c)
	conn := c.Conn()

	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = strings.Trim(t.schema, `"`)
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname, coalesce(d.description, '')
		FROM pg_catalog.pg_namespace n
		JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = $2 AND c.relkind = 'r'
		LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
		WHERE n.nspname = ANY($1)`, names, MigrationsTable)
	if err != nil {
		run.failAll(targets, sp.classify(ctx, conn, err))
		return nil
	}
	comments := map[string]string{} // schema -> history table comment, for schemas that have one
	for rows.Next() {
		var name, comment string
		if err := rows.Scan(&name, &comment); err != nil {
			rows.Close()
			run.failAll(targets, err)
			return nil
		}
		comments[name] = comment
	}
	if err := rows.Err(); err != nil {
		run.failAll(targets, sp.classify(ctx, conn, err))
		return nil
	}

	var pending, unsure []*migTarget
	for i, t := range targets {
		comment, exists := comments[names[i]]
		switch {
		case !exists:
			t.todo = t.migs // no history table: everything is pending, each a first application
			pending = append(pending, t)
		case t.group != nil && comment == t.digest:
			run.finish(t, nil, nil)
		default:
			unsure = append(unsure, t)
		}
	}
	if len(unsure) == 0 {
		return pending
	}

	pipe := conn.PgConn().StartPipeline(ctx)
	for _, t := range unsure {
		pipe.SendQueryParams("SELECT version, seq, checksum FROM "+t.schema+"."+MigrationsTable+" WHERE target = $1 ORDER BY version, seq",
			[][]byte{[]byte(t.name)}, nil, nil, nil)
		pipe.SendPipelineSync()
	}
	if err := pipe.Flush(); err != nil {
		_ = pipe.Close()
		run.failAll(unsure, sp.classify(ctx, conn, err))
		return pending
	}
	for i, t := range unsure {
		history, err := readOneHistory(pipe, conn)
		if err == nil {
			var res any
			res, err = pipe.GetResults()
			if _, ok := res.(*pgconn.PipelineSync); !ok && err == nil {
				err = fmt.Errorf("migration history pipeline out of step: got %T", res)
			}
		}
		if err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				_ = pipe.Close()
				run.failAll(unsure[i:], sp.classify(ctx, conn, err))
				return pending
			}
			// A history table of an older format, or (unreachable in
			// practice: readOneHistory handles missing schemas and
			// tables) another per-schema error, stays per-schema.
			if pgErr.Code == "42703" { // undefined_column
				err = fmt.Errorf("%s.%s has the format of an older shardgen (no target or seq column); rename it and migrate again: %w", t.schema, MigrationsTable, err)
			}
			run.finish(t, nil, err)
			continue
		}
		if err := t.plan(history); err != nil {
			run.finish(t, nil, err)
			continue
		}
		if len(t.todo) == 0 {
			run.finish(t, nil, nil)
			continue
		}
		pending = append(pending, t)
	}
	_ = pipe.Close()
	return pending
}

// readOneHistory reads one schema's history result from the pipeline: the
// latest application of each version. A schema or history table that does
// not exist yet is an empty history.
func readOneHistory(pipe *pgconn.Pipeline, conn *pgx.Conn) (map[int]applied, error) {
	res, err := pipe.GetResults()
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "3F000" || pgErr.Code == "42P01") {
			return nil, nil // invalid_schema_name, undefined_table
		}
		return nil, err
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return nil, fmt.Errorf("migration history pipeline out of step: got %T", res)
	}
	history := map[int]applied{}
	rows := pgx.RowsFromResultReader(conn.TypeMap(), rr)
	for rows.Next() {
		var v int
		var a applied
		if err := rows.Scan(&v, &a.seq, &a.sum); err != nil {
			rows.Close()
			return nil, err
		}
		history[v] = a // rows come ordered by seq: the last one wins
	}
	rows.Close()
	return history, rows.Err()
}

// plan compares the history with the Spec and sets todo: every version
// never applied, and every declarative one whose last application had
// other SQL.
func (t *migTarget) plan(history map[int]applied) error {
	t.todo = nil // never append into t.migs, which targets share
	known := map[int]bool{}
	for _, m := range t.migs {
		known[m.Version] = true
		last, done := history[m.Version]
		switch {
		case !done:
			t.todo = append(t.todo, m)
		case last.sum == m.sum:
		case m.Declarative:
			m.seq = last.seq + 1
			t.todo = append(t.todo, m)
		default:
			return fmt.Errorf("%w: version %d (%s) of %s was applied with checksum %.12s…, the Spec's SQL has %.12s…; add a new migration instead of editing an applied one",
				ErrChecksumMismatch, m.Version, m.Name, t.schema, last.sum, m.sum)
		}
	}
	var unknown []int
	for v := range history {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("schema %s has applied migration versions %v that the Spec does not declare (was it migrated by newer code?)", t.schema, unknown)
	}
	return nil
}

// migQueue hands out batches of targets to a pool's workers.
type migQueue struct {
	mu    sync.Mutex
	items []*migTarget
	dead  error // once set, workers stop and the rest fail with it
	alive int   // workers that have not given up on getting a connection
}

// giveUp records that a worker could not get a connection and reports
// whether it was the last one: then nobody will run the queue.
func (q *migQueue) giveUp() (last bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.alive--
	return q.alive == 0
}

func (q *migQueue) take(n int) []*migTarget {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead != nil {
		return nil
	}
	n = min(n, len(q.items))
	batch := q.items[:n:n]
	q.items = q.items[n:]
	return batch
}

// putBack returns untried targets to the front of the queue.
func (q *migQueue) putBack(ts []*migTarget) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(slices.Clip(ts), q.items...)
}

// kill marks the pool unusable and returns the targets no worker will try.
func (q *migQueue) kill(err error) []*migTarget {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead == nil {
		q.dead = err
	}
	rest := q.items
	q.items = nil
	return rest
}

// worker applies batches on one connection until the queue is empty.
func (run *migRun) worker(ctx context.Context, sp *serverPool, q *migQueue) {
	c, err := sp.acquire(ctx)
	if err != nil {
		// Other workers may hold connections (the pool can be busy with
		// the application's traffic); the queue fails only when none can.
		if q.giveUp() {
			run.failAll(q.kill(err), err)
		}
		return
	}
	defer sp.release(c)
	conn := c.Conn()
	for {
		if err := ctx.Err(); err != nil {
			run.failAll(q.kill(err), err)
			return
		}
		batch := q.take(run.opts.Batch)
		if len(batch) == 0 {
			return
		}
		if err := run.applyBatch(ctx, sp, conn, batch, q); err != nil {
			run.failAll(q.kill(err), err)
			return
		}
	}
}

// applyBatch sends the scripts of batch in one simple-protocol round trip,
// each schema in its own transaction. PostgreSQL stops at the first error of
// a multi-statement query, so the schemas before it are committed, the
// failing one is rolled back and reported, and the ones after it were never
// run and go back to the queue. It returns an error only when the
// connection is unusable; then the schemas not known to be committed are
// reported failed and the caller fails the rest of the queue.
func (run *migRun) applyBatch(ctx context.Context, sp *serverPool, conn *pgx.Conn, batch []*migTarget, q *migQueue) error {
	var b strings.Builder
	for _, t := range batch {
		t.script(&b, run.opts.LockTimeout)
	}
	mrr := conn.PgConn().Exec(ctx, b.String())
	commits := 0
	for mrr.NextResult() {
		tag, err := mrr.ResultReader().Close()
		if err == nil && tag.String() == "COMMIT" {
			t := batch[commits]
			commits++
			applied := make([]int, len(t.todo))
			for i, m := range t.todo {
				applied[i] = m.Version
			}
			run.finish(t, applied, nil)
		}
	}
	err := mrr.Close()
	if err == nil {
		if commits != len(batch) {
			err = fmt.Errorf("migration batch out of step: %d of %d schemas committed", commits, len(batch))
			run.failAll(batch[commits:], err)
			return err
		}
		return nil
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || conn.IsClosed() {
		// Whether the schema in flight committed is unknown; its history
		// will tell on the next run.
		err = sp.classify(ctx, conn, err)
		run.failAll(batch[commits:], err)
		return err
	}
	run.finish(batch[commits], nil, err)
	if rest := batch[commits+1:]; len(rest) > 0 {
		q.putBack(rest)
	}
	// The failed schema's transaction is still open (aborted) on the
	// connection; end it so the connection can take the next batch.
	if _, rerr := conn.PgConn().Exec(ctx, "ROLLBACK").ReadAll(); rerr != nil {
		return sp.classify(ctx, conn, rerr)
	}
	return nil
}

// script writes the transaction that applies t.todo: create the shard's
// schema and the history table if missing, then for each version its history row
// followed by its SQL, all under SET LOCAL lock_timeout.
func (t *migTarget) script(b *strings.Builder, lockTimeout time.Duration) {
	fmt.Fprintf(b, "BEGIN;\nSET LOCAL lock_timeout = %d;\n", max(1, lockTimeout.Milliseconds()))
	if t.group == nil {
		fmt.Fprintf(b, "SELECT pg_catalog.pg_advisory_xact_lock(%d);\n", int64(migrateLockKey))
	} else {
		// Only shard schemas are created: "public" exists in every
		// database, and CREATE SCHEMA IF NOT EXISTS checks the CREATE
		// privilege on the database even when the schema exists.
		fmt.Fprintf(b, "CREATE SCHEMA IF NOT EXISTS %s;\n", t.schema)
	}
	// Bounded column types: a table whose rows cannot outgrow a page gets
	// no TOAST table, which saves two files (table and index) per schema,
	// a measurable part of creating thousands of schemas.
	fmt.Fprintf(b, "CREATE TABLE IF NOT EXISTS %s.%s (target varchar(%d) NOT NULL, version integer NOT NULL, seq integer NOT NULL, "+
		"name varchar(%d) NOT NULL, checksum char(64) NOT NULL, declarative boolean NOT NULL, applied_at timestamptz NOT NULL DEFAULT pg_catalog.now(), "+
		"PRIMARY KEY (target, version, seq));\n", t.schema, MigrationsTable, maxIdent, maxMigrationName)
	for _, m := range t.todo {
		// A concurrent run that read the same history inserts the same
		// key: it waits for this transaction and then fails instead of
		// applying the version a second time.
		fmt.Fprintf(b, "INSERT INTO %s.%s (target, version, seq, name, checksum, declarative) VALUES (%s, %d, %d, %s, '%s', %t);\n",
			t.schema, MigrationsTable, quoteLiteral(t.name), m.Version, m.seq, quoteLiteral(m.Name), m.sum, m.Declarative)
		// The newline keeps the terminating semicolon out of a trailing
		// "-- comment"; an extra empty statement after one is harmless.
		b.WriteString(t.render(m.SQL))
		b.WriteString("\n;\n")
	}
	if t.group != nil {
		fmt.Fprintf(b, "COMMENT ON TABLE %s.%s IS '%s';\n", t.schema, MigrationsTable, t.digest)
	}
	b.WriteString("COMMIT;\n")
}

// quoteLiteral quotes s as an escape string literal (E'...'), which means
// the same whatever standard_conforming_strings is set to.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'"
}
