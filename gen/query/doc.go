// Package query is shardgen's front end for custom SQL: queries written the
// sqlc way, type-checked by sqlc against the schema of the one database or
// shard group they run on, and recorded in the model for gen/emit to turn
// into typed, shard-aware methods.
//
// # Where queries go
//
// Next to the models, in queries/<database or group>/*.sql: the directory
// names where its queries run (queries/default, queries/analytics,
// queries/blog). Each file holds queries in sqlc's format, each starting
// with a name line:
//
//	-- name: TopPosts :many
//	-- shardgen:fanout
//	SELECT p.id, p.title, count(c.id) AS comments
//	FROM posts p LEFT JOIN comments c ON c.post_id = p.id
//	WHERE p.author_id = $1
//	GROUP BY p.id ORDER BY comments DESC LIMIT sqlc.arg(lim);
//
// Commands are :one, :many, :exec and :execrows. Comment lines between the
// name line and the SQL document the generated method, except
// "-- shardgen:fanout", which also generates a method running the query on
// every shard of the group (:many only). Table names are written without a
// schema.
//
// # How sqlc is run
//
// For each query directory, the DDL of its database or group is rendered
// by gen/ddl exactly as its migration creates it, with the schema token
// (runtime.SchemaToken) replaced by "public", sqlc's default schema; only
// that target's tables exist there, so a query naming a table of another
// database, or a column that does not exist, fails. sqlc (pkg/cli,
// "sqlc generate" with its JSON output) runs once per generation run for all
// directories of all packages, in a child process that is the running
// program itself (see childEnv in sqlc.go); its messages name the user's
// .sql files, so they are reported at the user's file:line:col, with the
// other errors of the run. An unknown table that lives on another database
// or group is reported at the table's name with where it lives.
//
// # How tables are qualified
//
// sqlc returns each statement rewritten (parameters numbered, * expanded).
// That text is parsed with PostgreSQL's parser (pg_query), and
// runtime.SchemaToken plus a dot is inserted at the position the parser
// reports for every reference (RangeVar) to a table of the target; the
// runtime renders the shard's schema there, as for the generated
// repositories, so no statement depends on search_path. References to
// common table expressions and system catalogs stay as written.
//
// # Cost
//
// Measured on the 2-core development machine while other work was running
// (load average about 6), shardgen on examples/blog/blogdb (four models,
// two query directories, three queries), median of nine runs: 190-210 ms
// without queries, 420-530 ms with them, so sqlc adds about 0.25-0.3 s per
// run; with the binary evicted from the page cache first, 250-270 ms
// against 555-570 ms. Starting the child alone takes 20-40 ms; the rest is
// sqlc building its PostgreSQL catalog and checking the queries. Packages
// without a queries directory do not start sqlc at all. Linking sqlc grows
// the shardgen binary from 13 MB to 82 MB, and a build with an empty build
// cache from 66 s to 245 s of CPU (user) time, most of it pg_query's C
// (PostgreSQL's parser); applications that import only runtime/ and their
// generated code do not link any of it (deps_test.go).
package query
