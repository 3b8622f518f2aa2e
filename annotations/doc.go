// Package annotations reads what a shardgen user writes in Go source: the
// "//shardgen:" directives that declare databases and shard groups and place
// each model, and the struct tags that map fields to columns. It parses one
// line or one tag at a time and reports every problem with an exact
// position; putting the pieces together (which struct a directive belongs
// to, whether a group was declared) is the loader's and the validator's job.
//
// This comment is the reference of the annotation grammar.
//
// # An example
//
//	// Package blog is the data layer of the blog.
//	//
//	//shardgen:database analytics
//	//shardgen:group blog shards=16
//	package blog
//
//	//go:generate go tool shardgen
//
//	// User is an account. It lives on the default database.
//	//
//	//shardgen:default
//	type User struct {
//		ID    int64
//		Email string `db:"email" shardgen:"unique"`
//	}
//
//	// Post is sharded by its author: all posts of one author share a shard.
//	//
//	//shardgen:shard blog key=AuthorID
//	type Post struct {
//		ID       int64
//		AuthorID int64
//		Title    string
//		Draft    string `db:"-"`
//	}
//
//	// Comment lives on the shard of the post it comments on.
//	//
//	//shardgen:shard blog key=PostAuthorID
//	type Comment struct {
//		ID           int64
//		PostID       int64 `shardgen:"ref=Post,via=PostAuthorID,index"`
//		PostAuthorID int64
//		Body         string
//	}
//
//	// PageView is one row per page view, kept off the main database.
//	//
//	//shardgen:partition analytics table=page_views
//	type PageView struct {
//		ID     int64
//		PostID int64
//		At     time.Time `db:"viewed_at" shardgen:"index"`
//	}
//
// # Directives
//
// A directive is a line comment that starts with exactly "//shardgen:", with
// no space after "//". Go tools treat such lines as directives (like
// "//go:generate"), so they never show up in the documentation of the
// package. A directive is one line; its words are separated by spaces or
// tabs; options are written name=value with no space around "=". Positional
// arguments come before options, options may come in any order, and each
// option is written at most once. Nothing else may follow on the line, not
// even a comment.
//
// Package directives go in any comment group above the package clause of any
// file of the package (by convention doc.go):
//
//	//shardgen:database <name>
//
// declares a named database besides "default", the database every
// application has. Models are put on it with the partition directive.
//
//	//shardgen:group <name> shards=<n>
//
// declares a shard group: a fixed number n of logical shards, each a
// PostgreSQL schema named <name>_<nnnn> (blog_0000 ... blog_0015), spread
// over physical servers by configuration. n is fixed for the life of the
// data (IDs carry their logical shard), must be a power of two and at most
// 2^13 = 8192 with the default ID layout. Choose it large: moving logical
// shards to new servers is cheap, changing n is not.
//
// Model directives go in the doc comment of a struct type (the comment
// directly above "type Post struct"), exactly one per model:
//
//	//shardgen:default [table=<name>]
//
// puts the model's table on the default database.
//
//	//shardgen:partition <database> [table=<name>]
//
// puts the whole table on one named database (a feature partition), which
// must be declared with the database directive.
//
//	//shardgen:shard <group> key=<Field> [table=<name>]
//
// spreads the model's rows over the logical shards of a declared group by
// the value of one of its fields, the shard key. All rows with the same key
// value are on the same shard, so choose a key that the application always
// knows when it reads (the author of a post, the tenant of an order). The
// key field must be int64, int32, int16 or string (not a pointer, float,
// bool or time), and every model of a group must use the same key type.
//
// Moving a model between databases is an edit of its one directive followed
// by go generate.
//
// A sharded model's doc comment may also hold, besides its placement:
//
//	//shardgen:cache ttl=<duration>
//
// which caches its rows in the Redis servers of its shard group (see Redis
// features below). ttl is a Go duration from 1s to 720h (30 days).
//
// # Field tags
//
// Fields map to columns through their struct tag, which follows the
// reflect.StructTag convention (space-separated key:"value" pairs). Two keys
// are read; other keys such as json are left alone.
//
//	db:"<column>"   the column name (the convention of pgx and sqlx)
//	db:"-"          the field is not stored
//	shardgen:"<option>,<option>,..."
//
// The shardgen options, separated by commas with no spaces:
//
//	pk           the primary key (default: the field named ID)
//	unique       a unique constraint on the column, and a finder GetBy<Field>
//	unique=global  on a sharded model: unique across every shard of the
//	             group, kept by a lookup table (see Global unique fields)
//	fold         with unique=global on a string: compare without case
//	index        an index on the column, and a finder ListBy<Field>
//	json         store a struct or map field as jsonb
//	counter      an int64 of a sharded model counted in Redis (see below)
//	upsert       the field (the primary key or a unique field) is the
//	             conflict target of a generated UpsertBy<Field>
//	version      the row version: Update matches on it and bumps it
//	ref=<Model>  the field holds the primary key of Model (see Relations)
//	via=<Field>  with ref: Field of this model holds the referenced row's
//	             shard key, which makes the relation co-located
//
// A field skipped with db:"-" takes no shardgen options, via= needs ref=
// on the same field, fold needs unique=global, and unique and unique=global
// are one option, written once.
//
// On a sharded model, unique is a constraint of each logical shard's table:
// PostgreSQL cannot check it across shards. Rows with the same shard key are
// always on one shard, so the value is unique among the rows of one key, but
// two rows of different keys on different shards may share it. A value that
// must be unique across the whole group is marked unique=global.
//
// # Global unique fields
//
// A field of a sharded model tagged unique=global holds a value unique
// across every logical shard of the group (an email, a public order
// number, a slug):
//
//	//shardgen:shard blog key=AuthorID
//	type Post struct {
//		ID       int64
//		AuthorID int64
//		Slug     string `shardgen:"unique=global"`
//		Email    string `shardgen:"unique=global,fold"`
//		Number   int64  `shardgen:"unique"` // unique per shard, as before
//	}
//
// The field must be a non-null string, int64, int32 or int16 (its value is
// hashed like a shard key) and must not be the primary key or the shard key;
// fold (strings only) compares values without case, so "Ann@X.org" and
// "ann@x.org" are the same value (the row keeps what was written). A model
// may have several global fields and per-shard unique ones beside them.
//
// shardgen keeps a lookup table per field, <table>_<column>_lookup, in every
// shard schema of the group: the row for a value lives on the logical shard
// the value hashes to (not the owner's), so the lookup scales with the data.
// It maps the value to the owner row's ID, which carries the owner's logical
// shard, never a server, so moving shards never touches it. The repository
// gets GetBy<Field>(ctx, value) without a shard key: the lookup row, then
// the owner row, two round trips, never a fan-out. Insert, Update and
// Delete keep the lookup: a second row with the same value on any shard
// fails with an error matching lookup.ErrDuplicate (a *lookup.DuplicateError
// naming the model and field). SweepLookups removes lookup rows left behind
// by crashes; CheckLookups reports lookups and rows that disagree. The
// protocol (no two-phase commit), its crash behaviour and what a shard-bound
// transaction promises are documented in package runtime/lookup.
//
// # Redis features
//
// A model may use Redis (runtime/shardredis), beside its table: the Redis
// servers of its shard group, each logical shard's data on the server
// configured for that shard (shardredis.Config), exactly as its rows are on
// the database server of the shard. Both features need a sharded model.
// Their generated code is in a file of its own, shardgen_redis.go, created
// only when a model uses one: an application without them imports no Redis
// client.
//
// A counter field, `Views int64 shardgen:"counter"`, is a bigint NOT NULL
// column that changes by increments buffered in Redis (the Building to Scale
// seed): PostRedis.AddViews(ctx, id, delta) is one HINCRBY on the row's
// shard's Redis server; Redis.BlogCounters (a *shardredis.Counters per group
// with counters) flushes, on demand (Flush) or on an interval (Run), every
// pending delta as one UPDATE ... SET views = views + delta per row per
// flush, grouped by shard and server, exactly once even when a flusher dies
// at any step; PostRedis.Views(ctx, id) reads the stored value plus what is
// still pending. Update does not write counter fields (it would undo the
// flushes since its read); Insert writes their initial value. A counter is
// an int64, not the primary or shard key, not unique and not a ref. Each
// shard of a group with counters gets the flush-record table
// shardgen_counter_flushes.
//
// A cached model (//shardgen:cache ttl=5m) gets PostRedis.Get and GetMany,
// read-through: a hit is one GET (GetMany: one MGET per Redis server), a
// miss reads the database (GetMany's misses with one PostRepo.GetMany) and
// fills the cache for at most the TTL. Every Update and Delete through the
// generated repository invalidates the row's cached copy once committed;
// inside a shard transaction, after its COMMIT. Leases keep a reader that
// missed before a write from storing its old copy after the write's
// invalidation; a Redis server that is down makes reads go to the database.
// Writes with SQL of your own (custom queries, raw pgx) call
// PostRedis.Invalidate after they commit. The cached copy is a JSON array of
// the row's columns (the struct's json tags play no part); its counter
// fields are as stored when it was cached.
//
// NewRedis(db, rdb) builds the Redis side from a *shardredis.Redis opened
// with Spec, and installs the invalidation on db's repositories.
//
// # Finders
//
// A unique field gets a finder GetBy<Field> on its repository and on the
// transaction-bound one (Email -> UserRepo.GetByEmail(ctx, email)), which
// returns the row or an error wrapping runtime.ErrNotFound. An index field
// gets ListBy<Field>, named like a relation accessor without an "ID" suffix
// (PostID -> ListByPost(ctx, postID, page)), newest first with the keyset
// paging of List. Both take the field's type without its pointer, so they
// never look for NULL. On a sharded model they take the shard key first and
// run on its shard, in one round trip, matching on the shard key too
// (GetByNumber(ctx, key, number)): the value is unique among the rows of one
// key, as above. Every sharded model also gets CountByKey(ctx, key), the
// number of rows of one key in one round trip.
//
// Every repository also has GetMany(ctx, ids), the rows of many IDs in the
// order asked, nil where no row has the ID. On a database model it is one
// statement (= ANY($1)); on a sharded model the IDs are grouped by the shard
// they carry, the shards of one server are read as one pipelined batch (one
// round trip per server) and servers in parallel. An ID that cannot belong
// to the group (naming a shard beyond its count) or a failing shard makes
// the error a *runtime.ManyError naming them; the rows of the other IDs are
// still returned. GetMany is on the repository, not the transaction-bound
// one.
//
// Every repository and transaction-bound repository also has
// InsertMany(ctx, rows), which stores a batch and sets each row's ID. On a
// sharded model the rows are grouped by the shard of their key, each
// shard's rows are one multi-row INSERT ... RETURNING, and the statements of
// one server go as one pipeline (one round trip, written all or none),
// servers in parallel; a failing server leaves its rows with ID 0 and makes
// the error a *runtime.FanOutError naming its shards. In a shard
// transaction every row must be on the transaction's shard: a row of
// another shard is refused with runtime.ErrWrongShard before anything is
// written.
//
// Every repository also has a stream over all its rows, for jobs and
// backfills: StreamAllShards(ctx, opts) on a sharded model (it visits every
// shard, like CountAllShards), Stream(ctx, opts) on a database model. It is
// a Go iterator (iter.Seq2[*Post, error]) reading the rows by ascending ID
// in keyset chunks (runtime.StreamOptions.Chunk, default 1,000), shard after
// shard, opts.Parallel shards at once; opts.Progress reports the shards
// done, the rows and a runtime.Cursor (shard and last ID) that opts.From
// resumes from.
//
// The primary key and the shard key get no finder (Get and List find by
// them), nor does an index field that has a relation accessor, nor a field
// whose type has no meaningful equality lookup: floats, numerics, bool,
// arrays and JSON keep their constraint or index without a finder. A finder
// whose name another generated name already has (a relation accessor
// ListByPost beside an index field PostID) is a positioned error.
//
// # Upserts and row versions
//
// The upsert option chooses a conflict target: the field gets
// UpsertBy<Field>(ctx, row) on the repository and the transaction-bound one,
// which inserts row or, when a row with the same value exists, writes every
// column Update writes over it, in one statement (INSERT ... ON CONFLICT
// (column) DO UPDATE ... RETURNING), and sets and returns the row's ID:
//
//	ID    int64  `shardgen:"upsert"`        // UpsertByID
//	Email string `shardgen:"unique,upsert"` // UpsertByEmail
//
// The target must be the primary key or a unique field (ON CONFLICT needs a
// unique constraint on exactly that column); any other field is a
// positioned error. UpsertByID with row.ID 0 inserts with a new ID, as Insert
// does; an ID given must be one the database minted. On a sharded model an
// upsert runs on the shard of row's shard key (an ID of another shard is
// refused with runtime.ErrWrongShard) and only updates a row of the same
// key: a unique value is unique per logical shard, so when the existing row
// belongs to another key of that shard it is left alone and the error wraps
// runtime.ErrConflict.
//
// The version option makes a field the row version of optimistic
// concurrency: Update writes the row only while its version is still the
// one in row, bumps it by one (in the database and in row), and, when
// someone else changed the row since it was read, writes nothing and
// returns an error wrapping runtime.ErrConflict (a missing row is still
// runtime.ErrNotFound; both are told apart in the same round trip). An
// upsert that updates bumps it too. The version must be int64, int32 or
// int16 (not a pointer or nullable type), neither the primary key nor the
// shard key nor unique, and a model has at most one: anything else is a
// positioned error. Insert stores the version given (usually 0).
//
// The primary key must be int64; the database mints it. For a sharded model
// it is minted by a function of the shard schema and carries the logical
// shard, so that an ID alone says where its row is (Get, Update and Delete
// take only the ID). For default and partition models it is an identity
// column (bigint GENERATED BY DEFAULT AS IDENTITY).
//
// # Field types
//
// Every stored field has one of the Go types below, which decides its
// column's PostgreSQL type and whether the column allows NULL. A column is
// NOT NULL unless the Go type can hold "no value": a pointer, an sql.NullX
// or pgtype type (NULL when Valid is false), or a type whose zero value is
// nil (a slice or map, which pgx writes as NULL and reads back as nil).
//
//	Go type                      PostgreSQL type    NULL
//	int16                        smallint           no
//	int32                        integer            no
//	int64                        bigint             no
//	uint32                       bigint             no (every uint32 fits)
//	float32                      real               no
//	float64                      double precision   no
//	bool                         boolean            no
//	string                       text               no
//	time.Time                    timestamptz        no
//	[16]byte                     uuid               no
//	*T, T a type above           the type of T      yes, nil
//	[]byte                       bytea              yes, nil
//	[]string                     text[]             yes, nil
//	[]int64                      bigint[]           yes, nil
//	json.RawMessage              jsonb              yes, nil
//	struct, json option          jsonb              yes (never written)
//	*struct, json option         jsonb              yes, nil
//	map, json option             jsonb              yes, nil
//	slice, json option           jsonb              yes, nil
//	sql.NullString               text               yes, Valid false
//	sql.NullInt16                smallint           yes, Valid false
//	sql.NullInt32                integer            yes, Valid false
//	sql.NullInt64                bigint             yes, Valid false
//	sql.NullByte                 smallint           yes, Valid false
//	sql.NullFloat64              double precision   yes, Valid false
//	sql.NullBool                 boolean            yes, Valid false
//	sql.NullTime                 timestamptz        yes, Valid false
//	pgtype.Text                  text               yes, Valid false
//	pgtype.Int2                  smallint           yes, Valid false
//	pgtype.Int4                  integer            yes, Valid false
//	pgtype.Int8                  bigint             yes, Valid false
//	pgtype.Float4                real               yes, Valid false
//	pgtype.Float8                double precision   yes, Valid false
//	pgtype.Bool                  boolean            yes, Valid false
//	pgtype.Timestamptz           timestamptz        yes, Valid false
//	pgtype.Date                  date               yes, Valid false
//	pgtype.UUID                  uuid               yes, Valid false
//	pgtype.Numeric               numeric            yes, Valid false
//
// (sql is database/sql, json encoding/json, pgtype
// github.com/jackc/pgx/v5/pgtype.) A defined type is stored as its
// underlying type: type Status string is a text column, a named [16]byte
// such as github.com/google/uuid.UUID is uuid, type Tags []string is
// text[]. A struct, map, slice or array is stored as jsonb only with the
// json option; an empty struct becomes '{}', never NULL, but the column
// allows NULL like every jsonb column. A NOT NULL column added to an
// existing table gets the Go zero value in the existing rows.
//
// Any other type is refused where the field is declared, with what to use
// instead:
//
//	Go type                                    why, and what to use
//	int, uint                                  size depends on the platform: int64 or int32
//	uint64, uintptr                            not every value fits a bigint: int64
//	int8, uint8, uint16                        no such small integer: int16 or int32
//	time.Duration                              store it as int64 nanoseconds
//	sql.Null[string]                           use *string or sql.NullString
//	*[]byte, *json.RawMessage, *sql.NullInt64  already nullable: drop the pointer
//	struct{}, map[string]string                add the json option (jsonb)
//	[]int32, []float64                         add the json option (jsonb)
//	[4]int                                     a slice, or the json option
//	chan int, func(), any                      cannot be stored
//
// # Names
//
// Table and column names are derived from Go names unless given with table=
// or db:"...":
//
//   - a column is the snake_case of its field name: AuthorID -> author_id,
//     URL -> url, HTTPStatus -> http_status, PageView -> page_view;
//   - a table is the snake_case of its struct name with the last word made
//     plural: Post -> posts, PageView -> page_views, Category -> categories,
//     Address -> addresses, Box -> boxes, Person -> people;
//   - the repository field of the generated DB type (and the method of a
//     transaction) is the struct name with the same plural: db.Posts,
//     db.PageViews, db.Children, db.Analyses.
//
// # Build constraints
//
// The generated Go files carry the build constraint of the models' files
// (their //go:build line and a GOOS or GOARCH in the file name) besides
// their own //go:build !shardgen, so a package whose models are declared in
// a "//go:build linux" file builds on Windows too, without them. Because
// the generated shardgen.go refers to every model, all the models of a
// package must be declared under the same constraint; models under
// different ones are an error. A file holding directives that the build
// shardgen loads excludes (the GOOS, GOARCH and -tags that go generate
// runs with) is an error too, never silently left out: run go generate for
// a build that includes it.
//
// Every name written in an annotation (database, group, table, column) must
// be a lowercase SQL name: lowercase ASCII letters, digits and underscores,
// not starting with a digit. Names are always quoted in generated SQL, and
// PostgreSQL's 63-byte limit on identifiers applies to every name once
// prefixed (a group name becomes the prefix of its shard schemas). The
// validator checks derived names the same way. Names written for Go (key=,
// ref=, via=) are Go identifiers of the annotated package.
//
// # Relations
//
// A field tagged ref=Model holds the primary key of another model (so it is
// an int64). shardgen generates a relation accessor (CommentRepo.ListByPost)
// and a real foreign key only when the two rows are co-located: certain to
// live in the same database, so one query and one transaction can see both.
// That holds when
//
//   - both models are on the same database: both default, or both on the
//     same partition; or
//   - both models are in the same shard group and the referencing field says
//     via=F, where F is the referencing model's own shard-key field: F holds
//     the referenced row's shard-key value, so both rows hash to the same
//     shard. In the example above a Comment is sharded by PostAuthorID, the
//     author of its post, and so lands on the post's shard.
//
// Any other relation (across databases, between shard groups, or inside a
// group without via) could join rows that live on different servers, and is
// a positioned error. Fix it by storing the other model's ID as a plain
// field without ref=, or by sharding both models by the same key and saying
// so with via=.
//
// # Custom SQL queries
//
// Queries of your own (joins, aggregates, reports) are written the sqlc way
// in .sql files next to the models, in a directory named after the database
// or shard group they run on:
//
//	blogdb/queries/blog/posts.sql        runs on one shard of group "blog"
//	blogdb/queries/default/users.sql     runs on the default database
//	blogdb/queries/analytics/views.sql   runs on database "analytics"
//
// Each query starts with sqlc's name line, "-- name: <Name> <command>",
// where Name is an exported Go identifier and the command is :one, :many,
// :exec or :execrows. Comment lines between the name line and the SQL
// document the generated method; among them, the one query directive
//
//	-- shardgen:fanout
//
// also generates <Name>AllShards, which runs a :many query on every shard
// of the group and merges the rows. Parameters are $1, $2, ... or
// sqlc.arg(name) / @name. Table names are written without a schema:
//
//	-- name: MostCommented :many
//	-- An author's posts, most commented first.
//	SELECT p.id, p.title, count(c.id) AS comments
//	FROM posts p LEFT JOIN comments c ON c.post_id = p.id
//	WHERE p.author_id = sqlc.arg(author_id)
//	GROUP BY p.id ORDER BY comments DESC LIMIT sqlc.arg(top);
//
// shardgen type-checks every query with sqlc against the tables of that
// one database or group only, so a query naming a table of another
// database (a join from a sharded table to a default-database table), an
// unknown column or a syntax error fails generation at its file:line:col.
// The queries of a database or group are checked whenever its declaration
// and its models are free of errors, whatever errors other models have;
// otherwise a warning at the query directory says that they were not
// checked and which model to fix first.
// It then generates, per database or group, a type with one method per
// query (DB.BlogQueries.MostCommented), its transaction-bound variant
// (tx.Queries() inside DB.InBlogShard, or DB.BlogQueries.WithTx(tx)), and
// the parameter and row structs sqlc would generate (MostCommentedParams,
// MostCommentedRow; a row that is exactly a model's columns is read into
// the model's struct). A method of a group's query that compares the
// shard key column of one of its tables with a parameter for equality, in
// the top-level AND chain of its WHERE (p.author_id = $1, either way
// round, also in UPDATE and DELETE), takes that parameter right after ctx
// as the one routing argument, typed as the group's key:
// MostCommented(ctx, authorID BlogKey, top int32). Every row the query can
// match has that key, so no second argument can send it to a shard where
// its rows are not. Any other query of a group takes, right after ctx, the
// shard to run on: a key of the group (BlogKey) or the ID of one of its
// rows (PostID), which carries its shard. A comparison under OR or NOT, in
// a subquery, a JOIN condition or a UNION does not pin the key. Comparing
// the key with two different parameters, or marking a query that pins the
// key -- shardgen:fanout, is a positioned error. Every table the query
// names is qualified with the shard's schema, so each call is one round
// trip on one shard, with no search_path.
//
// A parameter or result column that sqlc traces to a model's primary key
// column has the model's ID type (PostID), and one traced to a shard key
// column the group's key type (BlogKey), when it is NOT NULL and of that
// type's basic type; a NULL-able or computed column keeps its plain type.
//
// # Errors
//
// The grammar is strict: an unknown directive or option, a missing or extra
// argument, a duplicated option, a malformed value or tag is an error at the
// exact line and column, with a "did you mean" when a known word is close
// (//shardgen:defualt, shard=16, uniq, sharding:"pk", countr, tll=5m). A comment line that
// looks like a directive but is not one ("// shardgen:default" with a space,
// "//shardgen default" without the colon, "//Shardgen:") gets a warning that
// names the directive it was probably meant to be, since Go would otherwise
// treat it as plain documentation and the model would silently lose its
// placement.
//
// # Grammar
//
// In the notation of the Go specification. A directive is the text of one
// line comment; a tag is the text of one struct tag without its quotes.
//
//	Directive     = "//shardgen:" ( DatabaseDir | GroupDir | DefaultDir |
//	                                PartitionDir | ShardDir | CacheDir ) [ blank ] .
//	DatabaseDir   = "database" blank SQLName .
//	GroupDir      = "group" blank SQLName blank ShardsOpt .
//	DefaultDir    = "default" [ blank TableOpt ] .
//	PartitionDir  = "partition" blank SQLName [ blank TableOpt ] .
//	ShardDir      = "shard" blank SQLName blank ( KeyOpt [ blank TableOpt ] |
//	                                              TableOpt blank KeyOpt ) .
//	CacheDir      = "cache" blank TTLOpt .
//	ShardsOpt     = "shards=" decimal_digit { decimal_digit } .  // at least 1
//	TTLOpt        = "ttl=" duration .  // a Go duration (time.ParseDuration), 1s to 720h
//	KeyOpt        = "key=" GoName .
//	TableOpt      = "table=" SQLName .
//	blank         = ( " " | "\t" ) { " " | "\t" } .
//
//	Tag           = { " " } [ Pair { " " { " " } Pair } { " " } ] .
//	Pair          = DBPair | ShardgenPair | OtherPair .
//	DBPair        = `db:"` ( "-" | SQLName ) `"` .
//	ShardgenPair  = `shardgen:"` Option { "," Option } `"` .
//	OtherPair     = Key ":" string_lit .  // any other key, not read
//	Key           = keychar { keychar } .  // any byte above ' ' except ':', '"', DEL
//	Option        = "pk" | "unique" | "unique=global" | "index" | "json" |
//	                "fold" | "counter" | "upsert" | "version" |
//	                "ref=" GoName | "via=" GoName .
//
//	SQLName       = ( lower | "_" ) { lower | decimal_digit | "_" } .
//	lower         = "a" … "z" .
//	GoName        = identifier .  // a Go identifier, not a keyword
//
// Besides the productions: each key (db, shardgen) appears at most once in a
// tag and each option at most once in a directive or a shardgen value; a
// value of a pair may use Go string escapes (reflect.StructTag unquotes it);
// via needs ref; fold needs unique=global; db:"-" excludes a shardgen
// pair; a model has at most one cache directive, beside its placement.
// Whether the named
// database, group, key field or model exists, whether shards is a power of
// two within the ID layout, and whether a name fits in 63 bytes are checked
// by the validator, which sees the whole package.
package annotations
