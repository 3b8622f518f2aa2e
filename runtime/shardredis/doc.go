// Package shardredis is what sits beside the sharded SQL (the Sentry and
// Redis in Action seeds): Redis servers sharded by the same logical shards
// as the databases, plus named non-sharded connections for aggregates. It is
// a package of its own so an application that uses no Redis feature links
// no Redis client: the runtime core imports pgx and the standard library
// only (runtime's TestDependencies checks both).
//
// # Routing
//
// A Config maps each shard group of the generated runtime.Spec to Redis
// servers by inclusive ranges of logical shards, exactly like the group's
// database servers (the same runtime.ServerConfig, with redis:// URLs, the
// same range syntax and the same gap and overlap checks), and names
// non-sharded connections:
//
//	cfg := shardredis.Config{
//		Groups: map[string][]runtime.ServerConfig{"blog": {
//			{Name: "r1", URL: "redis://cache1:6379/0", Shards: "0-4095"},
//			{Name: "r2", URL: "redis://cache2:6379/0", Shards: "4096-8191"},
//		}},
//		Named: map[string]string{"aggregates": "redis://cache0:6379/0"},
//	}
//	rdb, err := shardredis.Open(cfg, blog.Spec)
//
// Build it in Go, from SHARDGEN_REDIS_* environment variables
// (ConfigFromEnv), or from the "redis" section of the runtime's JSON file
// (LoadConfigFile; runtime.LoadConfigFile ignores that section). Open
// reports every problem at once as a *ConfigError; no error, log or String
// ever contains a password. Open does not connect: a server that is down
// fails (or, for the cache, falls back on) only its own shards' calls, fast
// (ErrUnavailable) rather than dialling on every call.
//
// A logical shard, not a key hash, picks the Redis server: the shard of a
// row comes from the runtime (runtime.Group.ShardOfInt64, ShardOfString,
// ShardOfID), so a key or an ID finds its Redis server exactly as it finds
// its database server. Every key shardredis writes for a shard starts with
// Group.Key(shard) = "sg:<group>:<shard>:", so moving a chunk of shards to
// another Redis machine (the seed's "migrate a chunk of shards") is a copy
// of the keys with those prefixes followed by a change of ranges.
//
// # Counters
//
// Counters buffers increments of bigint counter columns in Redis (one
// HINCRBY per increment on the row's shard's server) and flushes them as
// one UPDATE per row per interval, grouped by shard and database server,
// exactly once even when a flusher dies at any step; Get returns the
// stored value plus what is still pending. The type's documentation gives
// the algorithm and what survives which crash (the Redis persistence to
// configure). Each shard schema needs FlushesTable (CounterFlushesDDL).
//
// # Object cache
//
// Cache is a read-through cache of one model: Get (one GET on a hit) and
// GetMany (one MGET per Redis server; the misses read with one Load call),
// invalidated after every committed write (Invalidate, or InvalidateAfter
// inside a shard-bound runtime.Tx, which runs after the COMMIT). Leases
// keep a reader that missed before a write from storing its old copy after
// the write's invalidation; concurrent misses in one process share one
// load; a Redis server that is down makes reads go to the database. The
// type's documentation gives the protocol and the one window left (an
// invalidation that cannot reach Redis before this process dies).
//
// # Client
//
// The client is github.com/redis/rueidis. bench/redisclient (a module of
// its own) compares it with github.com/redis/go-redis/v9 on shardredis's
// operations: rueidis pipelines concurrent commands on a shared connection
// automatically, which made 32 writers' HINCRBY on one hot counter about 4x
// faster and a single GET about 2x faster on the 2-core test machine, with
// MGET of 100 close; the figures are in BENCHMARKS.md. Client-side caching
// and retries are off: a cached copy in the client is a copy invalidation
// cannot reach, and a retry would delay the database fallback.
package shardredis
