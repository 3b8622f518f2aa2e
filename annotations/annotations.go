package annotations

import (
	"go/token"
	"time"
)

// Prefix starts every shardgen directive. There is no space after "//", so
// go/ast treats the line as a directive and keeps it out of doc text.
const Prefix = "//shardgen:"

// Error is one positioned problem found while parsing an annotation.
type Error struct {
	Pos token.Position
	Msg string
}

// Error formats the error as "file:line:col: msg".
func (e Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Ident is a name written in an annotation, with where it was written.
type Ident struct {
	Name string
	Pos  token.Position
}

// Directive is one parsed "//shardgen:" line. It is one of *Database,
// *Group, *Default, *Partition, *Shard or *Cache.
type Directive interface {
	// At reports where the directive starts (the first '/').
	At() token.Position
	directive()
}

// Database declares a named database besides "default" (package level):
//
//	//shardgen:database analytics
type Database struct {
	Pos  token.Position
	Name Ident
}

// Group declares a shard group and its fixed number of logical shards
// (package level):
//
//	//shardgen:group blog shards=16
type Group struct {
	Pos    token.Position
	Name   Ident
	Shards int
	// ShardsPos is where the value of shards= is written, for the
	// validator's errors about it (power of two, ID layout limit).
	ShardsPos token.Position
}

// Default places a model on the default database:
//
//	//shardgen:default [table=name]
type Default struct {
	Pos   token.Position
	Table *Ident
}

// Partition places a whole table on one named database:
//
//	//shardgen:partition analytics [table=name]
type Partition struct {
	Pos      token.Position
	Database Ident
	Table    *Ident
}

// Shard places a model in a shard group, sharded by one of its fields:
//
//	//shardgen:shard blog key=AuthorID [table=name]
type Shard struct {
	Pos   token.Position
	Group Ident
	Key   Ident
	Table *Ident
}

// Cache marks a model cached in the Redis servers of its shard group, each
// row for at most TTL (a doc-comment directive beside the placement):
//
//	//shardgen:cache ttl=5m
type Cache struct {
	Pos token.Position
	TTL time.Duration
	// TTLPos is where the value of ttl= is written.
	TTLPos token.Position
}

// At reports where the directive starts (the first '/').
func (d *Cache) At() token.Position { return d.Pos }

// At reports where the directive starts (the first '/').
func (d *Database) At() token.Position { return d.Pos }

// At reports where the directive starts (the first '/').
func (d *Group) At() token.Position { return d.Pos }

// At reports where the directive starts (the first '/').
func (d *Default) At() token.Position { return d.Pos }

// At reports where the directive starts (the first '/').
func (d *Partition) At() token.Position { return d.Pos }

// At reports where the directive starts (the first '/').
func (d *Shard) At() token.Position { return d.Pos }

func (*Database) directive()  {}
func (*Group) directive()     {}
func (*Default) directive()   {}
func (*Partition) directive() {}
func (*Shard) directive()     {}
func (*Cache) directive()     {}

// FieldTag is what the struct tag of one field says to shardgen: the column
// name from `db:"..."` and the options from `shardgen:"..."`.
type FieldTag struct {
	// Column is the name from the db tag; nil when not given.
	Column *Ident
	// Skip is set by `db:"-"`: the field is not stored.
	Skip bool
	// PK marks the primary key (option "pk").
	PK bool
	// Unique and Index ask for a unique constraint or an index on the column.
	Unique bool
	Index  bool
	// Global is set by "unique=global": the value is unique across every
	// logical shard of the model's group, kept by a lookup table (Unique
	// stays false: there is no per-shard constraint).
	Global bool
	// Fold is set by "fold": a global unique string compared without
	// regard to case (only with unique=global).
	Fold bool
	// JSON stores a struct or map field as jsonb (option "json").
	JSON bool
	// Counter makes an int64 field of a sharded model a buffered counter
	// (option "counter"): increments go to Redis and are flushed into the
	// column as one UPDATE per row per interval (runtime/shardredis).
	Counter bool
	// Upsert makes the field a conflict target of a generated
	// UpsertBy<Field> (option "upsert"); it must be the primary key or
	// unique, which the validator checks.
	Upsert bool
	// Version marks the row version of optimistic concurrency (option
	// "version"): Update matches on it and bumps it. The validator checks
	// that it is an integer.
	Version bool
	// Ref names the model this field refers to (option "ref=Model").
	Ref *Ident
	// Via names the field of this model that holds the referenced model's
	// shard key (option "via=Field"); it makes a relation inside a shard
	// group co-located.
	Via *Ident
	// Options lists every shardgen option as written (Name is the option
	// name, "pk" or "ref"), in source order, with its position, so that later
	// stages can point at the option they reject.
	Options []Ident
}
