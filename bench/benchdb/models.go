package benchdb

import "time"

// SmallItem is a row of the benchmark table in group "small" (16 logical
// shards), sharded by its owner.
//
//shardgen:shard small key=UserID table=items
type SmallItem struct {
	ID      int64
	UserID  int64
	Title   string
	Body    string
	Views   int64
	Created time.Time `db:"created_at"`
}

// LargeItem is the same row in group "large" (4,096 logical shards).
//
//shardgen:shard large key=UserID table=items
type LargeItem struct {
	ID      int64
	UserID  int64
	Title   string
	Body    string
	Views   int64
	Created time.Time `db:"created_at"`
}

// SmallDoc is the row of the upsert and versioned-update benchmarks
// (bench/batch_test.go) in group "small": a slug unique per shard that
// UpsertBySlug targets, and a row version Update matches on and bumps.
//
//shardgen:shard small key=UserID table=docs
type SmallDoc struct {
	ID     int64
	UserID int64
	Slug   string `shardgen:"unique,upsert"`
	Body   string
	Rev    int64 `shardgen:"version"`
}
