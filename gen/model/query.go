package model

import "go/token"

// This file is the typed model of custom SQL queries (gen/query fills it
// after sqlc has checked them; gen/emit reads it).

// QueriesDir is the directory, inside an annotated package, that holds the
// custom SQL: one subdirectory per database or shard group, named after it
// (queries/default, queries/analytics, queries/blog), with *.sql files.
const QueriesDir = "queries"

// QueryCmd is what a query returns, as sqlc's "-- name: X :cmd" says.
type QueryCmd string

// The commands shardgen supports (those of sqlc's Go code generator that
// make sense on pgx).
const (
	CmdOne      QueryCmd = ":one"
	CmdMany     QueryCmd = ":many"
	CmdExec     QueryCmd = ":exec"
	CmdExecRows QueryCmd = ":execrows"
)

// QuerySet is the custom SQL of one database or shard group: every query of
// the .sql files of queries/<name>.
type QuerySet struct {
	// Database or Group is the target the queries run on (exactly one is
	// set).
	Database *Database
	Group    *Group
	// Dir is the absolute path of queries/<name>.
	Dir string
	// Queries are in file order, then source order.
	Queries []*Query
}

// Name is the name of the set's database or group.
func (s *QuerySet) Name() string {
	if s.Group != nil {
		return s.Group.Name
	}
	return s.Database.Name
}

// Query is one named query, type-checked by sqlc.
type Query struct {
	// Name is the name given with "-- name:", an exported Go identifier.
	Name string
	Cmd  QueryCmd
	// Pos is where "-- name:" was written.
	Pos token.Position
	// Doc are the comment lines written above the query (without "--"),
	// other than the name and shardgen lines.
	Doc []string
	// FanOut is set by "-- shardgen:fanout": a method running the query on
	// every shard of the group is generated too.
	FanOut bool
	// SQL is the statement as sqlc rewrote it (parameters numbered, star
	// expanded), with every table of the target qualified by
	// runtime.SchemaToken.
	SQL string
	// Params are the bind parameters in order ($1, $2, ...).
	Params []*QueryField
	// Columns are the result columns (none for :exec and :execrows).
	Columns []*QueryField
	// RowModel is set when the columns are exactly the columns of one
	// model's table, in order: the rows are read into the model's struct.
	RowModel *Model
	// Route is the parameter (one of Params) a query on a group compares
	// the shard key of one of its tables with, by equality, in the
	// top-level AND chain of its WHERE: the method takes it, typed as the
	// group's key, as the one argument that locates the shard. nil when
	// the query does not pin the key; the method then takes the shard
	// (a key or an ID) explicitly.
	Route *QueryField
}

// Args are the parameters other than Route, in order: those the method
// takes after the shard or the routing key.
func (q *Query) Args() []*QueryField {
	var out []*QueryField
	for _, p := range q.Params {
		if p != q.Route {
			out = append(out, p)
		}
	}
	return out
}

// QueryField is a parameter or result column.
type QueryField struct {
	// Name is the SQL name ("author_id", "comments"); GoName the exported Go
	// name derived from it ("AuthorID"), made unique within the query.
	Name   string
	GoName string
	// SQLType is the PostgreSQL type as sqlc reports it, for doc comments.
	SQLType string
	// Type is the Go type.
	Type QueryType
	// ID is set when the column is the primary key of a model's table and
	// Key when it is the shard key of a group's model (a NOT NULL scalar
	// of the key's type): the field then has the model's ID type (PostID)
	// or the group's key type (BlogKey), so IDs stay typed past the query.
	ID  *Model
	Key *Group
}

// QueryType is the Go type of a query parameter or column.
type QueryType struct {
	// Ident is the named type (element type when Slice).
	Ident GoIdent
	// Pointer: *Ident, for a column that may be NULL.
	Pointer bool
	// Slice: []Ident, for arrays (and []byte).
	Slice bool
}

// goName is the exported stem of the set's generated names: "Blog".
func (s *QuerySet) goName() string { return GoExported(s.Name()) }

// TypeName names the type whose methods run the set's queries, and the DB
// field holding it: "BlogQueries".
func (s *QuerySet) TypeName() string { return s.goName() + "Queries" }

// TxTypeName names the transaction-bound variant: "BlogTxQueries".
func (s *QuerySet) TxTypeName() string { return s.goName() + "TxQueries" }

// ShardType names the interface of the values that locate one shard of a
// group (its key type and the ID types of its models): "BlogShard".
func (s *QuerySet) ShardType() string { return s.goName() + "Shard" }

// ShardMethod names the unexported method of ShardType. It names the
// group, so that an ID of one group does not satisfy another's interface.
func (s *QuerySet) ShardMethod() string { return "shardIn" + s.goName() }

// QueryFileName is the generated file holding every query set of a
// package, unless a model's file has that name (a table "queries").
const QueryFileName = FilePrefix + "queries.go"

// ParamsType names the struct of a query's parameters: "TopPostsParams".
func (q *Query) ParamsType() string { return q.Name + "Params" }

// RowType names the struct of a query's result rows: "TopPostsRow".
func (q *Query) RowType() string { return q.Name + "Row" }

// FanOutName names the method running a fan-out query on every shard:
// "TopPostsAllShards".
func (q *Query) FanOutName() string { return q.Name + "AllShards" }

// ScanFunc names the unexported helper reading a query's rows.
func (q *Query) ScanFunc() string { return "shardgenScan" + q.Name }

// NeedsParams reports whether the query's parameters are passed as one
// ParamsType struct: it takes more than one besides Route.
func (q *Query) NeedsParams() bool { return len(q.Args()) > 1 }

// NeedsRow reports whether the query's rows are read into a RowType struct:
// it returns several columns that are not exactly one model's.
func (q *Query) NeedsRow() bool {
	return (q.Cmd == CmdOne || q.Cmd == CmdMany) && q.RowModel == nil && len(q.Columns) > 1
}

// NeedsScanFunc reports whether the query has a ScanFunc: it returns many
// rows (the method and its fan-out variant share the function).
func (q *Query) NeedsScanFunc() bool { return q.Cmd == CmdMany }

// SQLConst names the unexported constant holding the query's text:
// "mostViewedSQL".
func (q *Query) SQLConst() string { return lowerFirst(q.Name) + "SQL" }
