// Package runtime is the small library that shardgen's generated
// repositories call: a Router over named databases and shard groups, typed
// errors, stable key hashing, ID decoding, migrations and fan-out. It
// imports only pgx/v5 (and what pgx needs) and the standard library.
//
// # Databases, groups, logical shards, servers
//
// A Spec (generated) declares named databases ("default" and feature
// partitions, tables in schema public) and shard groups with a fixed number
// of logical shards. Logical shard n of group g is the PostgreSQL schema
// g_nnnn (SchemaName, four digits: "blog_0007"). A Config maps each database
// to a connection string and each group to physical servers, each owning an
// inclusive range of logical shards, as hypervault (the Python library of
// the Instagram sharding scheme, one of the designs shardgen follows) does:
//
//	cfg := runtime.Config{
//		Databases: map[string]string{"default": "postgres://app@db0/app"},
//		Groups: map[string][]runtime.ServerConfig{"blog": {
//			{Name: "a", URL: "postgres://app@db1/app", Shards: "0-2047"},
//			{Name: "b", URL: "host=db2 dbname=app user=app", Shards: "2048-4095"},
//		}},
//		Pool: runtime.PoolConfig{MaxConns: 16, AcquireTimeout: 2 * time.Second},
//	}
//	r, err := runtime.Open(ctx, cfg, app.Spec)
//
// Open checks the Config against the Spec and reports every problem at once
// (*ConfigError): a database or group without connection strings, names
// that are not lower-case identifiers, shard ranges that overlap, leave a
// gap or exceed the group's shard count. Errors never contain a connection
// string or password. Each distinct connection string gets one bounded
// pgxpool, shared by all the logical shards (and databases) on it; Open does
// not connect, so a server that is down only fails its own shards' calls.
//
// # Configuration from the environment or a file
//
// This is the reference of the SHARDGEN_* variables; the README and
// ConfigFromEnv point here. ConfigFromEnv reads:
//
//	SHARDGEN_CONFIG=/path/shards.json                 optional JSON file (LoadConfigFile) to start from
//	SHARDGEN_DATABASE_<NAME>_URL=<conn>               per database; DATABASE_URL is the fallback for "default"
//	SHARDGEN_GROUP_<GROUP>_SERVERS=a,b                a group's servers, by name
//	SHARDGEN_GROUP_<GROUP>_SERVER_<NAME>_URL=<conn>
//	SHARDGEN_GROUP_<GROUP>_SERVER_<NAME>_SHARDS=0-2047
//	SHARDGEN_POOL_MAX_CONNS, SHARDGEN_POOL_MIN_CONNS,
//	SHARDGEN_POOL_ACQUIRE_TIMEOUT, SHARDGEN_POOL_CONNECT_TIMEOUT,
//	SHARDGEN_POOL_MAX_CONN_LIFETIME, SHARDGEN_POOL_MAX_CONN_IDLE_TIME,
//	SHARDGEN_POOL_PROBE_INTERVAL (Go durations),
//	SHARDGEN_POOL_QUERY_EXEC_MODE (auto, the default; exec, cache_statement, cache_describe, describe_exec, simple_protocol)
//
// Names are upper-cased in variable names (group "blog" -> SHARDGEN_GROUP_BLOG_...).
// Values set in the environment override those of the SHARDGEN_CONFIG file.
// Every other SHARDGEN_* variable (but pgtest's SHARDGEN_TEST_DATABASE_URL
// and shardredis's SHARDGEN_REDIS_*, which it checks) is an error with a
// did-you-mean, so that typos surface: a misspelt
// SHARDGEN_DATABSE_DEFAULT_URL fails instead of letting DATABASE_URL win.
// The JSON file format is documented on LoadConfigFile; its connection
// strings may use ${VAR} so passwords can stay in the environment (in a
// URL the value is percent-encoded, so a password with / # ? @ % is safe).
// A connection string's own pgxpool parameters (pool_max_conns,
// pool_max_conn_lifetime, ...) are kept unless PoolConfig sets the field.
// No error shows a configuration value that could hold a secret, and
// Server.Addr and String never show user or password.
// The file's "redis" section belongs to runtime/shardredis (see its
// ConfigFromEnv), which the runtime neither reads nor links.
//
// # Routing
//
// A shard key maps to a logical shard by a fixed hash (hash.go: SplitMix64
// finalizer for integers, FNV-1a-64 plus the finalizer for strings, reduced
// by multiply-shift), an ID to the shard embedded in it (ShardOfID), and a
// shard to its server by a slice lookup: key -> shard -> pool is a few
// nanoseconds and allocation-free.
//
// # IDs
//
// Rows of sharded tables get their IDs from a function in their shard's
// schema (shardgen_next_id, installed by Migrate): milliseconds since the
// layout's epoch, the logical shard, and a per-shard sequence, so an ID
// alone routes to its row (Group.ShardOfID) and IDs sort by time. The
// layout has one source, Spec.Layout (zero: DefaultLayout, 41/13/10 from
// 2024-01-01, 8,192 shards of 1,024 IDs per ms): Migrate installs the
// function with it, Group.ShardOfID and the generated ID types decode with
// it, and a Spec whose layout differs from the router's is refused. Set it
// before the first Migrate; afterwards a change is a checksum mismatch.
//
// Generator is the Go-side alternative of the Instagram talk: 41/11/12
// (WorkerLayout: 2,048 workers of 4,096 IDs per ms), minted in the process
// with no round trip, for IDs that are not rows of a shard (events, request
// or idempotency keys). Its middle field is a worker number that each
// process must own alone; its IDs do not route to a shard.
//
// # Executing
//
// Queries are prepared once per group or database (Prepare) with SchemaToken
// where the schema goes; the text for each shard is rendered on first use
// and cached. Target (one shard or database) and *Tx (a transaction on one)
// implement Executor. Each call is one network round trip on a pooled
// connection of the owning server; no session setting is ever changed on a
// connection (no SET search_path): every statement names its schema.
// Taking a connection is bounded by PoolConfig.AcquireTimeout: saturation
// fails with ErrPoolTimeout, an unreachable server with ErrUnavailable, a
// rejected configuration with ErrMisconfigured, all inside a *ShardError
// naming group, shard and server.
//
// # Hooks, health, metrics, raw access
//
// Config.ConfigurePool is called with each physical server's
// pgxpool.Config before its pool exists, with PoolInfo saying which
// databases and group servers use it: set a pgx.QueryTracer (otelpgx,
// tracelog), AfterConnect or PrepareConn (register enum or pgvector types),
// for every server or some. With a tracer, TargetFromContext gives it the
// group, shard, schema and server of each statement (and of the wait for
// its connection, for a pgxpool.AcquireTracer). The blog example logs
// statements with slog this way (examples/blog/logging.go: pgx's tracelog,
// each line with group, shard, schema and server); otel_test.go wraps
// otelpgx's tracer to put them on OpenTelemetry spans, the runtime linking
// no OpenTelemetry:
//
//	type shardSpans struct{ *otelpgx.Tracer }
//
//	func (s shardSpans) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
//		ctx = s.Tracer.TraceQueryStart(ctx, c, d)
//		if t, ok := runtime.TargetFromContext(ctx); ok {
//			trace.SpanFromContext(ctx).SetAttributes(attribute.String("shardgen.group", t.Group()),
//				attribute.Int("shardgen.shard", int(t.Shard())), attribute.String("shardgen.server", t.Server().Name()))
//		}
//		return ctx
//	}
//
// Server.Ping and
// Router.Ping (every server at once, for a readiness probe) take a
// connection as calls do. Router.Stats returns each pool's figures under
// the metric names documented on PoolStats. Target.WithConn lends one
// shard's pooled connection (bounded acquire, its quoted schema at hand)
// for CopyFrom, SendBatch or LISTEN; Tx.Pgx is the pgx.Tx of a shard's
// transaction.
//
// # Faults
//
// What the runtime promises when a server fails, each pinned by a test
// against real servers with real signals (TestFaults in faults_test.go,
// TestHungServerWithinTimeout) and measured on the shared 2-vCPU dev VM,
// loaded by other work (load average 5-21), on 2026-12-03 (PostgreSQL 15,
// pgx v5.12.0; two runs of TestFaults, BenchmarkRetryStorm -count 5):
//
//   - Only the failed server's shards fail; the others keep serving.
//   - Taking a connection never takes longer than AcquireTimeout, whatever
//     the server does: a frozen server (SIGSTOP to the postmaster and every
//     backend) fails a call without a deadline after 501-505ms with an
//     AcquireTimeout of 500ms, even on a connection idle for over a second
//     that pgxpool would have pinged without a bound. The runtime pings
//     such connections itself, within AcquireTimeout (so a server too
//     loaded to answer a ping within AcquireTimeout is reported down).
//   - A busy server is never reported down: a connection handed over at a
//     waiter's deadline gives success or ErrPoolTimeout, never
//     ErrUnavailable (200 trials: 77 ErrPoolTimeout, 123 successes, 0
//     ErrUnavailable), and does not open the breaker.
//   - A server that cannot be reached opens its breaker: for
//     PoolConfig.ProbeInterval (default 100ms) calls fail with
//     ErrUnavailable without dialling (500 calls to a stopped server: one
//     dial), then one call probes while the others keep failing. A
//     fast-failed call takes 1ms, so writers retrying in a loop sleep
//     rather than spin. Failure latency: stopped server p50 1.08-1.11ms,
//     p99 5.3-6.7ms; frozen server (after the first call) p50 1.08-1.09ms,
//     p99 5.3-15.2ms; killed server p50 1.08ms, p99 4.2-7.3ms.
//   - A retry storm leaves the healthy servers their rate: 8 writers
//     retrying a stopped server without back-off (about 5,000-5,900 failed
//     calls/s) while 4 readers use a healthy server, measured paired
//     (phases with and without the storm alternating in one run): the
//     healthy server kept 90-108% of its rate without the storm, median
//     98.7% (13,739 against 13,716 reads/s). Without the breaker, every
//     call dialling (the behaviour before it), it kept 15-20%, median 19.5%.
//     See BenchmarkRetryStorm.
//   - A wrong password (28P01), a missing role (28000) or database (3D000)
//     and TLS the server refuses are ErrMisconfigured, not ErrUnavailable,
//     so retry logic keyed on ErrUnavailable does not loop on them.
//   - A restarted server is served again at most ProbeInterval after it
//     accepts connections: 20-25ms after a stop and start, 31-60ms after
//     SIGKILL of every process and crash recovery.
//
// # Migrations and schema changes
//
// Migrate applies a Spec's migrations to every database (schema public)
// and every logical shard schema, keeping a history per schema and target
// (MigrationsTable, keyed by target, version and seq): two logical
// databases kept in one physical database have separate histories in its
// public.shardgen_migrations.
//
// A Migration is either ordinary or Declarative. An ordinary migration is
// applied once; its SQL must never change afterwards (ErrChecksumMismatch).
// A declarative migration describes the desired schema with SQL that can be
// run again at any time; Migrate applies it again, recording each
// application, whenever its SQL differs from the last application recorded
// for that schema (unless this Spec is older: see "Rolling deploys"). The
// Spec shardgen generates has one declarative migration per database and
// group (version 1, "schema"), additive and idempotent: CREATE TABLE IF NOT
// EXISTS; ALTER TABLE ... ADD COLUMN IF NOT EXISTS for every column (a NOT
// NULL column with the Go zero value of its field as default, which it
// keeps, so existing rows read as the Go code would have written them and
// inserts that do not name the column still succeed); CREATE [UNIQUE] INDEX
// IF NOT EXISTS; unique constraints and foreign keys added when missing; and
// for each column the model no longer has (the generator reads the
// shardgen_schema.sql it wrote last time and warns), its zero value as
// default. The per-shard ID function is version IDFunctionVersion,
// declarative too. So after editing models, go generate and Migrate bring
// every database and shard up to date: new models, new fields (nullable or
// not), new indexes, unique constraints and co-located relations, and a
// model moved to another database or group (its table is created there;
// rows are not moved).
//
// What Migrate guarantees:
//
//   - Concurrent runs all succeed. Each schema's transaction first takes an
//     advisory lock of its own (databases share one per physical
//     database), then inserts its history rows: a run that read the
//     history before another run applied it waits for that run's
//     transaction (bounded by MigrateOptions.LockTimeout and ctx), fails
//     on the history's key at once, reads the history again and finds the
//     schema up to date, skipping every queued schema the other run
//     finished. Runs start at a random place of each server's list, so
//     replicas mostly work on different schemas. History has one row per
//     application.
//   - A schema is all or nothing: its pending versions and their history
//     rows are one transaction.
//   - A change is all or nothing per group: before changing any shard
//     schema that already has a history, Migrate runs the pending change on
//     every such shard in a transaction it rolls back (the preflight; new
//     schemas need none). If it fails anywhere — a unique index over
//     duplicate rows, NOT NULL over NULLs, a foreign key, a lock held
//     longer than LockTimeout — no shard of the group changes: each failing
//     shard's error is the server's, with its DETAIL and what to do, the
//     other shards' ErrChangeRejected. (Data written between the preflight
//     and the change can still make the change fail on a shard; the
//     MigrateError then names it exactly.) A no-op run does no preflight.
//   - Errors are exact: after a failure Migrate reads again the history of
//     every schema that failed while being applied (its COMMIT may have
//     landed, or a concurrent run migrated it), so *MigrateError lists
//     exactly the schemas not migrated, as ranges, with the first distinct
//     causes.
//   - A statement on a database or shard never migrated fails with
//     ErrNotMigrated (42P01 or 3F000 from the server, inside a
//     *ShardError): run Migrate at start-up, before serving.
//   - CheckSchema tells, reading only, whether a Spec's code fits every
//     schema: pending versions or missing tables and columns
//     (ErrNotMigrated), a NOT NULL column without a default that the
//     Spec's inserts would leave out (ErrOrphanNotNull), a schema a newer
//     Spec migrated (*SchemaNewerError). A deploy can run it first.
//
// Applying the declarative SQL again takes each of the target's tables'
// ACCESS EXCLUSIVE lock for a moment (ALTER TABLE; no table is rewritten),
// twice with the preflight, each wait bounded by MigrateOptions.LockTimeout.
//
// # Rolling deploys
//
// Expand, then contract. Everything Migrate does by itself keeps the
// previous generated code working against the new schema, so replicas of
// both versions can serve side by side while a deploy rolls: a new NOT NULL
// column has a default; a removed (or renamed) field's column stays, with
// its data, and gets a default; nothing is dropped, retyped or renamed.
// Generated statements name their columns, so an old version ignores new
// columns and a new version ignores orphaned ones.
//
// No downgrade: Migrate with an older Spec (a replica of the previous
// version restarting mid-deploy) changes nothing on a schema a newer Spec
// migrated — its history has versions the Spec lacks, or the Spec's
// declarative SQL was applied there before and other SQL since — and
// returns *SchemaNewerError (errors.Is ErrSchemaNewer) when that is all:
// log it and serve. The history never goes back. (A schema the older Spec
// never saw, created by the newer one, cannot be told apart; there the
// older SQL is applied, which adds nothing the newer schema lacks.)
//
// The contract step is explicit: once no running version uses a column,
// drop it (or change a type, nullability, a primary key or shard key, or
// remove an index or constraint) with an ordinary migration appended to the
// generated ones:
//
//	spec := app.Spec
//	spec.Groups[0].Migrations = append(slices.Clone(spec.Groups[0].Migrations),
//		runtime.Migration{Version: 2, Name: "drop_orders_note", SQL: `ALTER TABLE @schema@.orders DROP COLUMN IF EXISTS note`})
//	err := runtime.Migrate(ctx, r, spec, runtime.MigrateOptions{})
//
// A worked example, renaming Order.Note to Remark with a new column name:
// deploy 1 adds Remark next to Note (expand; the old version ignores
// remark, which has a default); an ordinary migration or the app copies
// note into remark; deploy 2 removes Note (the generator warns and gives
// note a default, so deploy 2's inserts succeed while deploy 1 still runs);
// deploy 3 appends the drop above (contract), when no replica of deploy 1
// is left. Keeping the column instead is one deploy: Remark string
// `db:"note"`. Within a run, pending migrations are applied in version
// order, so an ordinary migration with a higher version runs after the
// declarative one (it can fill a column the declarative one just added).
//
// # What generated code calls
//
// Applications use the Router, Config, Spec, the errors and the hooks
// above; a few names exist mainly for the generated repositories, and are
// kept as small and typed as the hot path needs (no interface boxing, no
// per-call lookup by name). They are public because generated code lives in
// the application's module, and documented so that hand-written code can
// use them too:
//
//   - Group.Prepare and Database.Prepare with SchemaToken, once per statement
//     (New does it); *Query caches each shard's text.
//   - Bind(target, tx) and its On value: one body serves a Repo and its
//     TxRepo, running on the Target outside a transaction (tx nil) or on the
//     *Tx inside one.
//   - Page (keyset pagination by descending ID) and DefaultPageLimit;
//     CollectPage reads a page's rows with the model's scan function into
//     one allocation (generic over the model type, nothing boxed).
//   - Group.GetMany (IDs grouped by shard, one query per shard, servers in
//     parallel; *ManyError), Group.PerShard with ShardCall (one call per shard
//     with its own arguments) and Group.FanOut (every shard; *FanOutError).
//   - Group.InsertMany and Target.InsertMany with InsertRows and RowsToken
//     (a batch as one multi-row INSERT per shard, one pipelined round trip
//     per server).
//   - StreamGroup and StreamTarget with StreamOptions, Cursor and
//     StreamProgress (every row in keyset chunks, generic over the row
//     type, the model's scan function passed as a func value): the
//     generated StreamAllShards and Stream.
//   - Group.InTxWith and Database.InTxWith with TxOptions (isolation,
//     read-only, opt-in retries of ErrSerialization up to MaxTxAttempts):
//     the generated In<Group>ShardWith and In<Database>TxWith.
//   - ErrNotFound and ErrWrongShard, wrapped in the generated errors.
//
// Helpers that only shardgen's own packages share live in internal
// packages (runtime/internal/confcheck for the configuration checks that
// runtime/shardredis repeats; internal/editdist for did-you-mean).
//
// # Exec mode
//
// Every (statement, schema) pair is a distinct SQL text: 20 statements over
// the 2,048 schemas of one server are 40,960 texts. pgx's default,
// QueryExecModeCacheStatement, keeps a per-connection LRU of 512 server-side
// prepared statements: while a server's texts fit, it is the fastest mode
// (the server skips parsing and planning), but beyond that it thrashes, each
// miss costing an extra Parse/Describe round trip plus a deallocation.
// QueryExecModeExec sends Parse/Bind/Execute of the unnamed statement in one
// round trip, needs no cache and leaves nothing on the connection, so its
// cost does not depend on the number of shards.
//
// The default, "auto" (PoolConfig.QueryExecMode zero), uses both: each
// server's pool counts the distinct texts rendered for its shards, and
// while they fit in the statement cache (statement_cache_capacity, 512)
// statements are cached as pgx does by default; past it, calls pass
// QueryExecModeExec. A small deployment (16 shards) thus runs as fast as
// hand-written pgx, and a large one (4,096 shards) never thrashes. Set
// PoolConfig.QueryExecMode to force one mode. target_bench_test.go measures
// all of them against plain pgxpool in the same run.
package runtime
