// Package model is the typed intermediate representation shardgen builds
// from annotated Go structs: databases, shard groups, models (tables),
// fields (columns) and relations. The loader fills it, the validator checks
// it, and the emitter reads it; nothing here touches go/ast or SQL text.
package model

import (
	"go/token"
	"strconv"
	"time"
)

// DefaultDatabase is the name of the database every app has.
const DefaultDatabase = "default"

// Package is everything shardgen knows about one Go package.
type Package struct {
	// Path is the import path and Name the package name of the annotated package.
	Path string
	Name string
	// Dir is the directory generated files are written to.
	Dir string
	// Databases lists the declared databases, "default" first; each holds
	// the models placed on it.
	Databases []*Database
	// Groups lists the declared shard groups in declaration order.
	Groups []*Group
	// Models lists every annotated struct in source order.
	Models []*Model
	// Declared lists the package-level identifiers the package's own
	// (non-generated) files declare, with their positions, so that a clash
	// with a generated identifier is reported where the user wrote it.
	Declared []Name
	// Queries are the custom SQL query sets of the package (queries/<name>/*.sql),
	// filled by gen/query after sqlc has checked them.
	Queries []*QuerySet
}

// Database is a named database (default or a feature partition).
type Database struct {
	Name   string
	Pos    token.Position // where it was declared; zero for default
	Models []*Model
}

// Group is a shard group: a fixed number of logical shards (PostgreSQL
// schemas) spread over physical servers at run time.
type Group struct {
	Name   string
	Shards int
	Pos    token.Position
	// ShardsPos is where the shard count was written.
	ShardsPos token.Position
	// Key is the Go type every model of the group is sharded by; set by the
	// loader from the first model's shard-key field.
	Key    *Type
	Models []*Model
}

// PlacementKind says where a model's table lives.
type PlacementKind int

const (
	// OnDefault puts the table on the default database.
	OnDefault PlacementKind = iota + 1
	// OnPartition puts the whole table on one named database.
	OnPartition
	// InGroup shards the table over the logical shards of a group.
	InGroup
)

// Model is one annotated struct: one table.
type Model struct {
	// GoName is the struct's name.
	GoName string
	// Pos is where the struct's name is declared.
	Pos token.Position
	// Table is the table name (annotation or derived from GoName).
	Table    string
	TablePos token.Position

	Placement PlacementKind
	// Database is set for OnDefault and OnPartition; Group for InGroup.
	Database *Database
	Group    *Group
	// ShardKey is the field the model is sharded by (InGroup only).
	ShardKey *Field
	// PK is the primary-key field.
	PK *Field

	// Directive is where the placement directive starts (its first '/').
	Directive token.Position
	// Where is the database (OnPartition) or group (InGroup) as written in
	// the directive. The loader resolves it into Database or Group; when it
	// names nothing declared, those stay nil and the validator reports it.
	Where Name
	// Key is the shard-key field name as written (InGroup only); ShardKey
	// stays nil when no stored field has that name.
	Key Name

	// Build is the build constraint of the file the struct is declared in
	// (its //go:build expression and the GOOS/GOARCH of its name, as one
	// expression), "" when the file builds everywhere.
	Build string

	// Fields are the stored fields in declaration order.
	Fields []*Field
	// Relations are the fields that refer to other models.
	Relations []*Relation
	// Cache is set when the model is cached in Redis (//shardgen:cache).
	Cache *Cache

	// Orphans are the columns the previously generated schema gave this
	// table that no field maps to any more (ddl.Evolve): the database
	// keeps them, with their data, and the DDL gives the NOT NULL ones a
	// default so that inserts that leave them out succeed.
	Orphans []Orphan
}

// Cache says how a model is cached in the Redis servers of its shard group
// (runtime/shardredis.Cache): read-through, invalidated after every
// committed write.
type Cache struct {
	TTL time.Duration
	// Pos is where the directive starts, TTLPos where ttl= is written.
	Pos, TTLPos token.Position
}

// UsesRedis reports whether the model has a Redis feature (a counter field
// or the cache), so that generated code for it imports a Redis client.
func (m *Model) UsesRedis() bool { return m.Cache != nil || len(m.Counters()) > 0 }

// Counters are the model's counter fields, in declaration order.
func (m *Model) Counters() []*Field {
	var out []*Field
	for _, f := range m.Fields {
		if f.Counter {
			out = append(out, f)
		}
	}
	return out
}

// UsesRedis reports whether any model of p has a Redis feature.
func (p *Package) UsesRedis() bool {
	for _, m := range p.Models {
		if m.UsesRedis() {
			return true
		}
	}
	return false
}

// HasCounters reports whether a model of g has a counter field: the group's
// shards then need the flush-record table of runtime/shardredis.
func (g *Group) HasCounters() bool {
	for _, m := range g.Models {
		if len(m.Counters()) > 0 {
			return true
		}
	}
	return false
}

// Orphan is a column of a table that its model no longer has.
type Orphan struct {
	Column  string // unquoted
	Type    string // SQL type, as generated
	NotNull bool
	Zero    string // SQL literal of its field's Go zero value (NOT NULL only)
}

// Field is one stored struct field: one column.
type Field struct {
	GoName string
	Pos    token.Position
	Column string
	// ColumnPos is where the column name was written (the db tag), or Pos.
	ColumnPos token.Position
	// Type is nil when the loader reported the Go type as unsupported, which
	// never happens in a package without errors.
	Type   *Type
	PK     bool
	Unique bool
	Index  bool
	// Global is set by unique=global: the value is unique across every
	// logical shard of the model's group, kept by the lookup table
	// Model.LookupTable names (Unique is then false). Fold compares it
	// without case. GlobalPos is where unique=global was written, FoldPos
	// where fold was (zero without it).
	Global    bool
	Fold      bool
	GlobalPos token.Position
	FoldPos   token.Position
	// Counter marks a buffered counter (tag option "counter"); CounterPos
	// is where the option is written.
	Counter    bool
	CounterPos token.Position
	// Upsert makes the field the conflict target of an UpsertBy<Field>;
	// Version makes it the row version of optimistic concurrency (see
	// upsert.go). UpsertPos and VersionPos are where the options were
	// written.
	Upsert     bool
	UpsertPos  token.Position
	Version    bool
	VersionPos token.Position
}

// Relation is a field that holds the primary key of another model.
type Relation struct {
	From  *Model
	Field *Field
	To    *Model
	// Via is the field of From that holds To's shard key, when declared.
	Via *Field
	// Pos is where the relation was written (the ref= option).
	Pos token.Position
	// ToName and ViaName are the names written in ref= and via= (ViaName
	// is zero without via=); To and Via stay nil when they name nothing.
	ToName  Name
	ViaName Name
}

// Name is a name written in an annotation, kept with its position so that
// an unresolved reference can be reported where it was written.
type Name struct {
	Text string
	Pos  token.Position
}

// Kind is the storage kind of a Go field type.
type Kind int

// The supported kinds. Each maps to one PostgreSQL type.
const (
	Int16 Kind = iota + 1
	Int32
	Int64
	Uint32 // stored as bigint: every uint32 fits
	Float32
	Float64
	Bool
	String
	Bytes
	Time
	UUID        // [16]byte or a named [16]byte type such as uuid.UUID
	StringArray // []string
	Int64Array  // []int64
	JSONRaw     // json.RawMessage
	JSON        // a struct or map marshalled to jsonb
	Date        // pgtype.Date: a calendar date (date)
	Numeric     // pgtype.Numeric: an arbitrary-precision number (numeric)
)

// String names the kind as the Go types it covers, for messages.
func (k Kind) String() string {
	switch k {
	case Int16:
		return "int16"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Uint32:
		return "uint32"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	case Bool:
		return "bool"
	case String:
		return "string"
	case Bytes:
		return "[]byte"
	case Time:
		return "time.Time"
	case UUID:
		return "[16]byte"
	case StringArray:
		return "[]string"
	case Int64Array:
		return "[]int64"
	case JSONRaw:
		return "json.RawMessage"
	case JSON:
		return "json"
	case Date:
		return "date"
	case Numeric:
		return "numeric"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// GoIdent is a Go identifier qualified by its import path, as protogen has
// it; an empty ImportPath means a predeclared type.
type GoIdent struct {
	ImportPath string
	Name       string
}

// Type is the Go type of a field and how it is stored.
type Type struct {
	Kind Kind
	// Nullable is true for pointers, sql.Null* and pgtype types: the column
	// allows NULL.
	Nullable bool
	// Pointer is true when the Go type is *T (T described by Kind/Ident).
	Pointer bool
	// Ident is the named Go type of the field (after the pointer, if any),
	// e.g. {"time", "Time"}, {"database/sql", "NullString"}, or {"", "int64"}.
	Ident GoIdent
	// Slice is true for []T kinds; Ident is then the element type.
	Slice bool
	// Go is the field's Go type as written in the package (e.g. "*int64",
	// "sql.NullString", "map[string]any"), for messages.
	Go string
}

// CanShard reports whether values of t can be shard keys: a non-null
// integer (int16/32/64) or string whose value hashes to one logical shard.
func (t *Type) CanShard() bool {
	if t == nil || t.Nullable || t.Slice {
		return false
	}
	switch t.Kind {
	case Int16, Int32, Int64, String:
		return true
	}
	return false
}
