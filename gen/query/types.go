package query

import (
	"strings"

	"github.com/shardgen/shardgen/gen/model"
)

const pgtypePath = "github.com/jackc/pgx/v5/pgtype"

// goType maps a PostgreSQL type, as sqlc reports it, to the Go type of a
// parameter or column. It follows sqlc's Go generator for pgx/v5 with
// emit_pointers_for_null_types: a column that may be NULL is a pointer
// (arrays, bytea and types that carry their own validity stay as they
// are), and time types are time.Time rather than pgtype wrappers, as in
// shardgen's own models. Types sqlc cannot pin down (polymorphic results
// such as max(anyelement)) are any.
func goType(sqlType string, notNull, array bool) model.QueryType {
	name := strings.ToLower(sqlType)
	name = strings.TrimPrefix(name, "pg_catalog.")
	name = strings.TrimSuffix(name, "[]")
	var t model.QueryType
	nullWrapper := false // the type represents NULL itself
	switch name {
	case "int2", "smallint", "smallserial", "serial2":
		t.Ident = model.GoIdent{Name: "int16"}
	case "int4", "integer", "int", "serial", "serial4":
		t.Ident = model.GoIdent{Name: "int32"}
	case "int8", "bigint", "bigserial", "serial8":
		t.Ident = model.GoIdent{Name: "int64"}
	case "float4", "real":
		t.Ident = model.GoIdent{Name: "float32"}
	case "float8", "double precision", "float":
		t.Ident = model.GoIdent{Name: "float64"}
	case "bool", "boolean":
		t.Ident = model.GoIdent{Name: "bool"}
	case "text", "varchar", "character varying", "char", "character", "bpchar", "name", "citext", "string":
		t.Ident = model.GoIdent{Name: "string"}
	case "bytea", "blob", "json", "jsonb":
		// sqlc reads json and jsonb as []byte too.
		t.Ident = model.GoIdent{Name: "byte"}
		t.Slice = true
		nullWrapper = true
	case "timestamptz", "timestamp with time zone", "timestamp", "timestamp without time zone":
		t.Ident = model.GoIdent{ImportPath: "time", Name: "Time"}
	case "date":
		t.Ident = model.GoIdent{ImportPath: pgtypePath, Name: "Date"}
		nullWrapper = true
	case "uuid":
		t.Ident = model.GoIdent{ImportPath: pgtypePath, Name: "UUID"}
		nullWrapper = true
	case "numeric", "decimal":
		t.Ident = model.GoIdent{ImportPath: pgtypePath, Name: "Numeric"}
		nullWrapper = true
	case "interval":
		t.Ident = model.GoIdent{ImportPath: pgtypePath, Name: "Interval"}
		nullWrapper = true
	default:
		return model.QueryType{Ident: model.GoIdent{Name: "any"}}
	}
	if array {
		if t.Slice {
			// bytea[] and friends: sqlc would need [][]byte; keep it simple
			// and let pgx decide.
			return model.QueryType{Ident: model.GoIdent{Name: "any"}}
		}
		t.Slice = true
		return t
	}
	if !notNull && !nullWrapper {
		t.Pointer = true
	}
	return t
}
