// Package badquery is a valid blog whose custom SQL joins a sharded table
// with a table of the default database, for the README's "What errors look
// like". It lives under testdata so that go build ./... skips it.
//
//shardgen:group blog shards=16
package badquery

//shardgen:default
type User struct {
	ID    int64
	Email string
}

//shardgen:shard blog key=AuthorID
type Post struct {
	ID       int64
	AuthorID int64
	Title    string
}
