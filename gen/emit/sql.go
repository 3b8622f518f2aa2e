package emit

import (
	"strconv"
	"strings"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
)

// This file writes the DML the repositories prepare. Every statement names
// its table as @schema@."table" (the runtime substitutes the quoted shard
// schema, or "public" on a database) and takes every value as a bind
// parameter.

// queries are the statements of one model's repository.
type queries struct {
	Insert string
	// InsertMany is Insert with runtime.RowsToken for the VALUES tuples.
	InsertMany string
	Get        string
	Update     string // empty when the model has no column to update
	Delete     string
	List       string
	Count      string
	// ListBy is per relation, in m.Relations order.
	ListBy []string
}

func params(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "$" + strconv.Itoa(from+i)
	}
	return out
}

func columns(fields []*model.Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = ddl.QuoteIdent(f.Column)
	}
	return out
}

// buildQueries writes the statements of mi's repository. Parameter order is
// the order the generated code passes arguments in (see the field lists of
// modelInfo).
func buildQueries(mi *modelInfo) queries {
	m := mi.m
	table := runtime.SchemaToken + "." + ddl.QuoteIdent(m.Table)
	id := ddl.QuoteIdent(m.PK.Column)
	sel := "SELECT " + strings.Join(columns(m.Fields), ", ") + " FROM " + table
	var q queries

	if m.HasLookups() {
		// The ID is minted first (the lookup rows name it before the row
		// exists) and written explicitly: see package runtime/lookup.
		cols := append([]*model.Field{m.PK}, mi.insertCols...)
		q.Insert = "INSERT INTO " + table + " (" + strings.Join(columns(cols), ", ") +
			") VALUES (" + strings.Join(params(1, len(cols)), ", ") + ")"
	} else if len(mi.insertCols) == 0 {
		q.Insert = "INSERT INTO " + table + " DEFAULT VALUES RETURNING " + id
	} else {
		q.Insert = "INSERT INTO " + table + " (" + strings.Join(columns(mi.insertCols), ", ") +
			") VALUES (" + strings.Join(params(1, len(mi.insertCols)), ", ") + ") RETURNING " + id
	}
	// InsertMany names the same columns (the ID alone, each row then
	// (DEFAULT), when there is no other); the runtime writes the tuples.
	if len(mi.insertCols) == 0 {
		q.InsertMany = "INSERT INTO " + table + " (" + id + ") VALUES " + runtime.RowsToken + " RETURNING " + id
	} else {
		q.InsertMany = "INSERT INTO " + table + " (" + strings.Join(columns(mi.insertCols), ", ") + ") VALUES " + runtime.RowsToken + " RETURNING " + id
	}
	q.Get = sel + " WHERE " + id + " = $1"
	q.Delete = "DELETE FROM " + table + " WHERE " + id + " = $1"
	if m.HasLookups() {
		// The values the lookup rows to release hold.
		q.Delete += " RETURNING " + strings.Join(columns(m.GlobalFields()), ", ")
	}
	q.Count = "SELECT count(*) FROM " + table

	// Update: $1 is the ID; sharded models add the shard key as $2 so the
	// statement can only touch the row on the shard the key maps to.
	where := " WHERE " + id + " = $1"
	next := 2
	if mi.sharded {
		where += " AND " + ddl.QuoteIdent(m.ShardKey.Column) + " = $2"
		next = 3
	}
	switch {
	case mi.version != nil:
		// Optimistic concurrency: the version is the next parameter; the
		// statement bumps it and says in its one row whether it updated
		// and whether the row exists, so that a version conflict and a
		// missing row are told apart in the same round trip (both CTEs
		// see one snapshot).
		v := ddl.QuoteIdent(mi.version.Column)
		sets := make([]string, 0, len(mi.updateCols)+1)
		for i, f := range mi.updateCols {
			sets = append(sets, ddl.QuoteIdent(f.Column)+" = $"+strconv.Itoa(next+1+i))
		}
		sets = append(sets, v+" = "+v+" + 1")
		q.Update = "WITH cur AS (SELECT 1 FROM " + table + where + "), upd AS (UPDATE " + table + " SET " + strings.Join(sets, ", ") +
			where + " AND " + v + " = $" + strconv.Itoa(next) + " RETURNING 1) SELECT EXISTS (SELECT 1 FROM upd), EXISTS (SELECT 1 FROM cur)"
	case len(mi.updateCols) > 0:
		sets := make([]string, len(mi.updateCols))
		for i, f := range mi.updateCols {
			sets[i] = ddl.QuoteIdent(f.Column) + " = $" + strconv.Itoa(next+i)
		}
		q.Update = "UPDATE " + table + " SET " + strings.Join(sets, ", ") + where
	}

	// Lists are newest first by ID, keyset-paginated: the cursor is
	// runtime.Page.Cursor(), the largest int64 on the first page, so one
	// statement serves every page and the (filter, id) index answers it.
	list := func(filter string) string {
		if filter == "" {
			return sel + " WHERE " + id + " < $1 ORDER BY " + id + " DESC LIMIT $2"
		}
		return sel + " WHERE " + filter + " = $1 AND " + id + " < $2 ORDER BY " + id + " DESC LIMIT $3"
	}
	if mi.sharded {
		q.List = list(ddl.QuoteIdent(m.ShardKey.Column))
	} else {
		q.List = list("")
	}
	for _, r := range m.Relations {
		q.ListBy = append(q.ListBy, list(ddl.QuoteIdent(r.Field.Column)))
	}
	return q
}
