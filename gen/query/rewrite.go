package query

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/shardgen/shardgen/runtime"
)

// relation is one table reference of a statement, as PostgreSQL's parser
// (pg_query) reports it.
type relation struct {
	schema, name string
	// offset is the byte offset of the reference in the statement: the
	// schema when there is one, else the name.
	offset int
}

// tableRefs parses sql with PostgreSQL's own parser and returns every table
// reference (RangeVar: FROM, JOIN, INSERT INTO, UPDATE, DELETE FROM, ...)
// and the common table expressions (WITH x AS ...) it defines, by name,
// with their offsets.
func tableRefs(sql string) ([]relation, map[string]int, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, nil, err
	}
	var rels []relation
	ctes := map[string]int{}
	walk(tree.ProtoReflect(), func(m protoreflect.Message) {
		switch n := m.Interface().(type) {
		case *pg_query.RangeVar:
			rels = append(rels, relation{schema: n.Schemaname, name: n.Relname, offset: int(n.Location)})
		case *pg_query.CommonTableExpr:
			ctes[n.Ctename] = int(n.Location)
		}
	})
	return rels, ctes, nil
}

// walk calls fn on m and every message below it. pg_query's tree is a
// protobuf message, so reflection reaches every node kind without a
// hand-written visitor that new PostgreSQL versions would outdate.
func walk(m protoreflect.Message, fn func(protoreflect.Message)) {
	if !m.IsValid() {
		return
	}
	fn(m)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walk(l.Get(i).Message(), fn)
			}
			return true
		}
		walk(v.Message(), fn)
		return true
	})
}

// qualify inserts runtime.SchemaToken and a dot before every reference to a
// table of the target (tables), at the offsets PostgreSQL's parser reports,
// so that the runtime renders each shard's (or database's) schema into the
// statement. References to common table expressions and to system
// catalogs are left alone. sql is the statement as sqlc rewrote it.
func qualify(sql string, tables map[string]bool) (string, error) {
	rels, ctes, err := tableRefs(sql)
	if err != nil {
		return "", fmt.Errorf("parse the statement sqlc produced: %w", err)
	}
	var at []int
	for _, r := range rels {
		if _, cte := ctes[r.name]; r.schema != "" || cte || !tables[r.name] {
			continue
		}
		if r.offset < 0 || r.offset > len(sql) {
			return "", fmt.Errorf("table %q reported at offset %d, outside the statement", r.name, r.offset)
		}
		at = append(at, r.offset)
	}
	slices.Sort(at)
	at = slices.Compact(at)
	var b strings.Builder
	prev := 0
	for _, off := range at {
		b.WriteString(sql[prev:off])
		b.WriteString(runtime.SchemaToken + ".")
		prev = off
	}
	b.WriteString(sql[prev:])
	return b.String(), nil
}
