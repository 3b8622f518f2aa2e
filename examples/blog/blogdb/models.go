package blogdb

import "time"

// User is an account. Accounts are few and read everywhere, so they stay on
// the default database, like Wave's user accounts.
//
//shardgen:default
type User struct {
	ID      int64
	Email   string    `shardgen:"unique"`
	Name    string    `db:"display_name"`
	Joined  time.Time `db:"joined_at"`
	IsAdmin bool
}

// Post is a blog post. Posts are sharded by their author (the shard key):
// all posts of one author live on one logical shard, so listing them is one
// query on one server. Posts are read far more often than written, so they
// are cached in the Redis servers of group blog (each for at most five
// minutes, invalidated after every committed write), and their views are
// counted in Redis and flushed into the table once per post per interval.
//
//shardgen:shard blog key=AuthorID
//shardgen:cache ttl=5m
type Post struct {
	ID int64
	// AuthorID is the author's User ID. Users are on another database, so
	// it is a plain value, not a ref=. Listing by author needs no index of
	// its own: every sharded table has a unique (shard key, id) index.
	AuthorID  int64
	Title     string
	Body      string
	Tags      []string
	Published *time.Time `db:"published_at"` // nil while a draft
	Created   time.Time  `db:"created_at"`
	// Views is a buffered counter: PostRedis.AddViews records a view in
	// Redis, Redis.BlogCounters flushes the sum as one UPDATE per post.
	Views int64 `shardgen:"counter"`
}

// Comment is a comment on a post. It is sharded by the author of its post
// (PostAuthorID), not by its own writer, so that it lands on the same
// logical shard as its post: the ref is then co-located (via=), and
// shardgen generates CommentRepo.ListByPost and a real foreign key.
//
//shardgen:shard blog key=PostAuthorID
type Comment struct {
	ID           int64
	PostID       int64 `shardgen:"ref=Post,via=PostAuthorID,index"`
	PostAuthorID int64
	CommenterID  int64 // a User's ID, stored as a plain value: users are on the default database
	Body         string
	Created      time.Time `db:"created_at"`
}

// PageView records one view of a post. Views are many and written on every
// request, so they live on the analytics database (a feature partition),
// away from the accounts. They refer to posts by plain IDs: a post may be
// on any shard.
//
//shardgen:partition analytics
type PageView struct {
	ID       int64
	PostID   int64  `shardgen:"index"`
	ViewerID *int64 // nil for anonymous readers
	Path     string
	At       time.Time `db:"viewed_at"`
}
