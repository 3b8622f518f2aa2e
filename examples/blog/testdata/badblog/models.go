// Package badblog is the example blog with four classic sharding mistakes,
// for the README's "What errors look like". It lives under testdata so that
// go build ./... skips it; run shardgen on it by path.
//
//shardgen:database analytics
//shardgen:group blog shards=12
package badblog

import "time"

//shardgen:default
type User struct {
	ID    int64
	Email string `shardgen:"uniq"`
}

//shardgen:shard blog key=AuthorID
type Post struct {
	ID       int64
	AuthorID int64
	Title    string
}

// Comment is sharded by whoever wrote it, so its post may be on another
// shard.
//
//shardgen:shard blog key=CommenterID
type Comment struct {
	ID          int64
	PostID      int64 `shardgen:"ref=Post"`
	CommenterID int64
	Body        string
}

//shardgen:partition analytcs
type PageView struct {
	ID     int64
	PostID int64 `shardgen:"ref=Post"`
	At     time.Time
}
