package runtime

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// Query is a SQL statement prepared for one group or database. Its text
// contains SchemaToken wherever a table is named ("SELECT ... FROM
// @schema@.posts WHERE id = $1"); values are always bind parameters.
//
// The text for a shard is rendered the first time the query runs there and
// cached, so later runs cost one atomic load and no allocation. Memory is
// bounded by (shards used) x (length of the SQL) per query. Each rendered
// text counts towards its server's working set, which picks the exec mode
// (see "Exec mode" in the package documentation).
type Query struct {
	sql   string
	group *Group    // nil for a database query
	db    *Database // nil for a group query
	err   error     // set when the SQL cannot be schema-qualified
	texts []atomic.Pointer[string]
}

// Prepare registers a statement for the group's shards. The SQL must contain
// SchemaToken; if it does not, every execution fails with an error saying so,
// because SQL on a shard must be schema-qualified.
func (g *Group) Prepare(sql string) *Query {
	q := &Query{sql: sql, group: g, texts: make([]atomic.Pointer[string], g.nShards)}
	if !strings.Contains(sql, SchemaToken) {
		q.err = fmt.Errorf("query for group %s does not contain %s, so it would not be schema-qualified: %q", g.name, SchemaToken, sql)
	}
	return q
}

// Prepare registers a statement for the database. SchemaToken, if present,
// becomes "public"; the text is rendered once, now.
func (d *Database) Prepare(sql string) *Query {
	q := &Query{sql: sql, db: d, texts: make([]atomic.Pointer[string], 1)}
	t := render(sql, `"public"`, -1)
	q.texts[0].Store(&t)
	d.server.pool.texts.Add(1)
	return q
}

// SQL returns the statement as given to Prepare, with SchemaToken.
func (q *Query) SQL() string { return q.sql }

// Text returns the statement rendered for a logical shard (for a database
// query, the shard is ignored).
func (q *Query) Text(s Shard) string {
	if q.db != nil {
		return *q.texts[0].Load()
	}
	if s < 0 || int(s) >= len(q.texts) {
		return ""
	}
	return q.text(s)
}

// text returns the cached text for shard s of the query's group, rendering
// it on first use. Racing first uses render the same string; either wins.
func (q *Query) text(s Shard) string {
	if p := q.texts[s].Load(); p != nil {
		return *p
	}
	t := render(q.sql, q.group.quoted[s], s)
	if q.texts[s].CompareAndSwap(nil, &t) {
		q.group.table.Load().byShard[s].pool.texts.Add(1)
	}
	return *q.texts[s].Load()
}

// render substitutes the quoted schema and the shard number.
func render(sql, quotedSchema string, s Shard) string {
	out := strings.ReplaceAll(sql, SchemaToken, quotedSchema)
	if s >= 0 && strings.Contains(out, ShardToken) {
		out = strings.ReplaceAll(out, ShardToken, strconv.Itoa(int(s)))
	}
	return out
}

// renderSQL substitutes SchemaToken and ShardToken in sql for one logical
// shard of group (the migration runner and tools use it). The schema is
// quoted.
func renderSQL(sql, group string, s Shard) string {
	return render(sql, QuoteIdent(SchemaName(group, s)), s)
}
