package runtime

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrOrphanNotNull reports a NOT NULL column without a default that the
// Spec's tables do not have: inserts of this Spec's code, which do not name
// it, would fail. (Columns the generator knows as orphaned get a default
// from Migrate.) Found by CheckSchema.
var ErrOrphanNotNull = errors.New("NOT NULL column without a default that this Spec does not know")

// SchemaCheckError lists the databases and shard schemas this Spec's code
// cannot run against, each with its reasons: not migrated (ErrNotMigrated:
// pending versions, a missing table or column), an orphaned NOT NULL column
// (ErrOrphanNotNull), an applied migration with other SQL
// (ErrChecksumMismatch). Schemas a newer Spec migrated are listed too
// (ErrSchemaNewer) when other problems exist; alone, they make CheckSchema
// return *SchemaNewerError, which a deploy may accept.
type SchemaCheckError struct {
	Problems []*ShardError // in Spec order
	Total    int           // databases and shards checked
}

// Error names the schemas as ranges, then the first distinct causes.
func (e *SchemaCheckError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shardgen check: %d of %d schemas do not fit this Spec: %s", len(e.Problems), e.Total, where(e.Problems))
	writeKinds(&b, e.Problems)
	return b.String()
}

// Unwrap returns the per-schema errors.
func (e *SchemaCheckError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, f := range e.Problems {
		errs[i] = f
	}
	return errs
}

// specTableRE and specColumnRE read the tables of the schema shardgen
// generates (declarative migrations): one column per line.
var (
	specTableRE  = regexp.MustCompile(`(?m)^CREATE TABLE IF NOT EXISTS (?:@schema@|"public")\."([a-z0-9_]+)" \($`)
	specColumnRE = regexp.MustCompile(`^\s+"([a-z0-9_]+)" `)
)

// specTables returns the tables and columns the declarative migrations of
// migs create, in the format shardgen generates; SQL of another shape
// gives no tables (and so no column checks).
func specTables(migs []migration) map[string][]string {
	out := map[string][]string{}
	for _, m := range migs {
		if !m.Declarative {
			continue
		}
		lines := strings.Split(m.SQL, "\n")
		for i := 0; i < len(lines); i++ {
			mt := specTableRE.FindStringSubmatch(lines[i])
			if mt == nil {
				continue
			}
			var cols []string
			for i++; i < len(lines) && lines[i] != ");"; i++ {
				if mc := specColumnRE.FindStringSubmatch(lines[i]); mc != nil {
					cols = append(cols, mc[1])
				}
			}
			out[mt[1]] = cols
		}
	}
	return out
}

// CheckSchema tells, without changing anything, whether the code of spec
// can run against every database and shard schema r routes: each schema's
// history has every migration of spec, and the tables of the generated
// schema have every column spec's code uses and no NOT NULL column without
// a default that spec's inserts would leave out. It reads each server's
// catalog and histories (a few queries per server, no locks beyond reads).
// A deploy can run it before Migrate or before switching traffic: nil
// means fit; *SchemaNewerError means a newer Spec migrated some schemas
// and nothing else is wrong; *SchemaCheckError lists every problem.
// The ID function is expected in the Spec's layout (Spec.Layout).
func CheckSchema(ctx context.Context, r *Router, spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	layout, err := specLayout(r, spec)
	if err != nil {
		return err
	}
	idSQL, err := layout.IDFunctionSQL()
	if err != nil {
		return err
	}
	targets, err := migTargets(r, spec, idSQL, layout, nil)
	if err != nil {
		return err
	}
	tables := map[string]map[string][]string{} // target name -> table -> columns
	for _, t := range targets {
		if _, ok := tables[t.name]; !ok {
			tables[t.name] = specTables(t.migs)
		}
	}
	byPool := map[*serverPool][]*migTarget{}
	var pools []*serverPool
	for _, t := range targets {
		sp := t.server.pool
		if _, ok := byPool[sp]; !ok {
			pools = append(pools, sp)
		}
		byPool[sp] = append(byPool[sp], t)
	}
	found := make([][]failure, len(pools))
	eachPool(pools, func(i int, sp *serverPool) {
		ts := byPool[sp]
		fail := func(t *migTarget, err error) { found[i] = append(found[i], failure{t: t, err: err}) }
		c, err := sp.acquire(ctx)
		if err != nil {
			for _, t := range ts {
				fail(t, err)
			}
			return
		}
		defer sp.release(c)
		errs, err := survey(ctx, sp, c.Conn(), ts)
		if err != nil {
			for _, t := range ts {
				fail(t, err)
			}
			return
		}
		cols, err := catalogColumns(ctx, sp, c.Conn(), ts)
		for j, t := range ts {
			var problems []error
			switch {
			case errs[j] != nil:
				problems = append(problems, errs[j])
			case len(t.todo) > 0:
				var vs []int
				for _, m := range t.todo {
					vs = append(vs, m.Version)
				}
				problems = append(problems, fmt.Errorf("%w: versions %v of the Spec are not applied", ErrNotMigrated, vs))
			}
			if err != nil {
				problems = append(problems, err)
			} else if t.hadHistory {
				problems = append(problems, checkColumns(tables[t.name], cols[t.unquoted()])...)
			}
			if len(problems) > 0 {
				fail(t, errors.Join(problems...))
			}
		}
	})
	var all []failure
	for _, f := range found {
		all = append(all, f...)
	}
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b failure) int { return a.t.order - b.t.order })
	list := make([]*ShardError, len(all))
	onlyNewer := true
	for i, f := range all {
		list[i] = f.t.fail(f.err)
		onlyNewer = onlyNewer && errors.Is(f.err, ErrSchemaNewer) && !errors.Is(f.err, ErrNotMigrated) && !errors.Is(f.err, ErrOrphanNotNull)
	}
	if onlyNewer {
		return &SchemaNewerError{Schemas: list, Total: len(targets)}
	}
	return &SchemaCheckError{Problems: list, Total: len(targets)}
}

// catalogColumn is a column as the catalog has it.
type catalogColumn struct {
	name       string
	notNull    bool
	hasDefault bool // a default, an identity or a generated column
}

// catalogColumns reads the columns of every table in the schemas of ts:
// schema -> table -> columns.
func catalogColumns(ctx context.Context, sp *serverPool, conn *pgx.Conn, ts []*migTarget) (map[string]map[string][]catalogColumn, error) {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.unquoted()
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname, a.attname, a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
		FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p')
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> $2`, names, MigrationsTable)
	if err != nil {
		return nil, sp.classify(ctx, conn, err)
	}
	defer rows.Close()
	out := map[string]map[string][]catalogColumn{}
	for rows.Next() {
		var schema, table string
		var col catalogColumn
		if err := rows.Scan(&schema, &table, &col.name, &col.notNull, &col.hasDefault); err != nil {
			return nil, err
		}
		if out[schema] == nil {
			out[schema] = map[string][]catalogColumn{}
		}
		out[schema][table] = append(out[schema][table], col)
	}
	if err := rows.Err(); err != nil {
		return nil, sp.classify(ctx, conn, err)
	}
	return out, nil
}

// checkColumns compares the tables a Spec's code uses with a schema's.
func checkColumns(want map[string][]string, have map[string][]catalogColumn) []error {
	var problems []error
	tables := make([]string, 0, len(want))
	for t := range want {
		tables = append(tables, t)
	}
	slices.Sort(tables)
	for _, table := range tables {
		cols, ok := have[table]
		if !ok {
			problems = append(problems, fmt.Errorf("%w: table %s is missing", ErrNotMigrated, table))
			continue
		}
		known := map[string]bool{}
		for _, c := range cols {
			known[c.name] = true
		}
		var missing, orphans []string
		for _, c := range want[table] {
			if !known[c] {
				missing = append(missing, c)
			}
		}
		for _, c := range cols {
			if c.notNull && !c.hasDefault && !slices.Contains(want[table], c.name) {
				orphans = append(orphans, c.name)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Errorf("%w: table %s lacks columns %s", ErrNotMigrated, table, strings.Join(missing, ", ")))
		}
		if len(orphans) > 0 {
			problems = append(problems, fmt.Errorf("%w: table %s has %s; give it a default or drop it with an ordinary migration", ErrOrphanNotNull, table, strings.Join(orphans, ", ")))
		}
	}
	return problems
}
