// Package blogdb is the data layer of the example blog, laid out the way the
// DjangoCon 2013 talk "Database Sharding with Django" lays out Wave's data:
// user accounts on the default database, page views on a feature-partition
// database of their own, and posts and comments sharded horizontally by
// their author.
//
// The placement of every model is written once, in the directive of its
// struct; shardgen turns it into typed repositories (shardgen_*.go) and the
// DDL of every database and shard schema (shardgen_schema.sql). After
// editing a model, run go generate.
//
//shardgen:database analytics
//shardgen:group blog shards=16
package blogdb

//go:generate go tool shardgen
