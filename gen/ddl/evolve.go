package ddl

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"

	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
)

// A model edit must keep the version of the app still running working
// against the schema the new version migrates to (expand, then contract:
// see "Migrations and schema changes" in package runtime). Evolve finds
// what an edit does to tables that exist, from the schema shardgen
// generated last time (the package's shardgen_schema.sql), and says so.

// prevColumn is a column of a table in the previous schema file.
type prevColumn struct {
	typ     string
	notNull bool
	zero    string
	orphan  bool // already an orphan there
}

// prevTable is a table of the previous schema file.
type prevTable struct {
	columns map[string]*prevColumn // the columns a model field mapped to (not the primary or shard key), and orphans
	order   []string
	unique  map[string]bool // columns with a one-column UNIQUE constraint
}

var (
	prevSectionRE = regexp.MustCompile(`^-- (database|group) "([a-z0-9_]+)"`)
	prevCreateRE  = regexp.MustCompile(`^CREATE TABLE IF NOT EXISTS \S*\."([a-z0-9_]+)" \($`)
	prevAlterRE   = regexp.MustCompile(`^ALTER TABLE \S*\."([a-z0-9_]+)"$`)
	prevAddRE     = regexp.MustCompile(`^\s+ADD COLUMN IF NOT EXISTS "([a-z0-9_]+)" (.+?)(?: NOT NULL DEFAULT (.+))?[,;]$`)
	prevUniqueRE  = regexp.MustCompile(`^\s+CONSTRAINT "[a-z0-9_]+" UNIQUE \("([a-z0-9_]+)"\),?$`)
	prevOrphanRE  = regexp.MustCompile(`^-- orphaned column "([a-z0-9_]+)" of ([a-z0-9_]+): type (.+?), (?:NOT NULL, default (.+)|nullable)$`)
)

// parsePrevious reads the tables of a schema file shardgen generated,
// keyed by target ("database default", "group blog") and table. It reads
// only the lines shardgen writes; anything else is ignored, so a file of an
// older format gives fewer facts, never an error.
func parsePrevious(src []byte) map[string]map[string]*prevTable {
	out := map[string]map[string]*prevTable{}
	var target, table string
	inCreate := false
	get := func(name string) *prevTable {
		if out[target] == nil {
			out[target] = map[string]*prevTable{}
		}
		t := out[target][name]
		if t == nil {
			t = &prevTable{columns: map[string]*prevColumn{}, unique: map[string]bool{}}
			out[target][name] = t
		}
		return t
	}
	add := func(t *prevTable, name string, c *prevColumn) {
		if t.columns[name] == nil {
			t.order = append(t.order, name)
		}
		t.columns[name] = c
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := prevSectionRE.FindStringSubmatch(line); m != nil {
			target, table, inCreate = m[1]+" "+m[2], "", false
			continue
		}
		if target == "" {
			continue
		}
		switch {
		case prevCreateRE.MatchString(line):
			table, inCreate = prevCreateRE.FindStringSubmatch(line)[1], true
			get(table)
		case inCreate && line == ");":
			inCreate = false
		case inCreate && prevUniqueRE.MatchString(line):
			get(table).unique[prevUniqueRE.FindStringSubmatch(line)[1]] = true
		case prevAlterRE.MatchString(line):
			table, inCreate = prevAlterRE.FindStringSubmatch(line)[1], false
		case table != "" && prevAddRE.MatchString(line):
			m := prevAddRE.FindStringSubmatch(line)
			add(get(table), m[1], &prevColumn{typ: m[2], notNull: m[3] != "", zero: m[3]})
		case prevOrphanRE.MatchString(line):
			m := prevOrphanRE.FindStringSubmatch(line)
			add(get(m[2]), m[1], &prevColumn{typ: m[3], notNull: m[4] != "", zero: m[4], orphan: true})
		}
	}
	return out
}

// Evolve compares the models of p with prev, the schema file generated for
// p last time (nil when there is none), sets every model's Orphans, and
// warns, at the model or field, about what the edit does to a table that
// exists:
//   - a column no field maps to any more (a removed or renamed field)
//     stays, with its data; the DDL gives a NOT NULL one its zero value as
//     default, so that inserts of both versions succeed. When one new
//     column of the same type appeared, it is probably a rename, and the
//     warning names the db:"old_name" tag that keeps the data;
//   - `unique` added to a field of an existing table: the existing rows
//     (holding the zero value, for a new column) can violate it, and in a
//     shard group it holds per shard only.
//
// An orphan stays in the schema file (a comment the next run reads), so the
// default is not lost when generating again; dropping the column is the
// contract step, an ordinary migration.
func Evolve(p *model.Package, prev []byte, diags *diag.List) {
	if len(prev) == 0 {
		return
	}
	tables := parsePrevious(prev)
	for _, m := range p.Models {
		var target string
		switch {
		case m.Placement == model.InGroup && m.Group != nil:
			target = "group " + m.Group.Name
		case m.Database != nil:
			target = "database " + m.Database.Name
		default:
			continue
		}
		pt := tables[target][m.Table]
		if pt == nil {
			moveNote(p, m, target, tables, diags)
			continue // a new table here: nothing running uses it
		}
		evolveModel(m, pt, diags)
	}
}

func evolveModel(m *model.Model, pt *prevTable, diags *diag.List) {
	have := map[string]*model.Field{}
	for _, f := range m.Fields {
		have[f.Column] = f
	}
	// New columns, by type: rename candidates; and where each field is
	// among the columns a table gets by ADD COLUMN (pt.order's order).
	added := map[string][]*model.Field{}
	place := map[*model.Field]int{}
	for _, f := range m.Fields {
		if f == m.PK || f == m.ShardKey {
			continue
		}
		place[f] = len(place)
		if _, old := pt.columns[f.Column]; old {
			continue
		}
		if typ, err := sqlType(f.Type); err == nil {
			added[typ] = append(added[typ], f)
		}
	}
	m.Orphans = nil
	for i, name := range pt.order {
		c := pt.columns[name]
		if have[name] != nil {
			continue
		}
		m.Orphans = append(m.Orphans, model.Orphan{Column: name, Type: c.typ, NotNull: c.notNull, Zero: c.zero})
		if c.orphan {
			continue // warned when it became one
		}
		relaxed := "inserts leave it NULL"
		if c.notNull {
			relaxed = "its default becomes its zero value " + c.zero + ", so that inserts of both versions succeed"
		}
		diags.Warnf(m.Pos, "column %q of table %s no longer has a field in %s: Migrate keeps it and its data (%s); drop it with an ordinary migration once no running version uses it (the contract step)",
			name, m.Table, m.GoName, relaxed)
		// One new column of the same type, or the one in the removed
		// column's place, is probably the removed one renamed.
		var f *model.Field
		for _, cand := range added[c.typ] {
			if len(added[c.typ]) == 1 || place[cand] == i {
				f = cand
			}
		}
		if f != nil {
			diags.Warnf(f.Pos, "%s.%s (new column %q) may be a rename of the removed column %q of the same type: to keep its data, tag the field `db:%q`",
				m.GoName, f.GoName, f.Column, name, name)
		}
	}
	for _, f := range m.Fields {
		if !f.Unique || f == m.PK || pt.unique[f.Column] {
			continue
		}
		existing := "its existing rows must already be distinct"
		if _, old := pt.columns[f.Column]; !old {
			zero, _ := zeroLiteral(f.Type)
			existing = "the column is new, so every existing row gets the zero value " + zero + " and the constraint fails wherever a table holds two rows"
		}
		scope := ""
		if m.Placement == model.InGroup {
			scope = "; in a shard group uniqueness holds per shard only, not across the group"
		}
		diags.Warnf(f.Pos, "`unique` added to %s.%s of existing table %s: %s (Migrate then changes no shard and lists the failing ones)%s. Safe sequence: add the field without `unique`, fill distinct values (an ordinary migration or the app), then add `unique`",
			m.GoName, f.GoName, m.Table, existing, scope)
	}
}

// moveNote says, when m's table was generated for another database or
// group last time, that its rows stay there until moved, and by which
// command (package runtime/modelmove). The running version keeps serving
// from the old place until the move fences it; this version must be
// deployed once the move says done.
func moveNote(p *model.Package, m *model.Model, target string, tables map[string]map[string]*prevTable, diags *diag.List) {
	var from []string
	for t := range tables {
		if t != target && tables[t][m.Table] != nil {
			from = append(from, t)
		}
	}
	if len(from) != 1 {
		return // new, or ambiguous: nothing to move from one place
	}
	ids := "IDs are kept"
	switch {
	case strings.HasPrefix(from[0], "group "):
		diags.Warnf(m.Pos, "model %s moved from %s to %s: its rows stay in %s; `shardgen move -model` does not move rows out of a shard group yet: copy them with a program of your own, or move the model back",
			m.GoName, from[0], target, from[0])
		return
	case strings.HasPrefix(target, "group "):
		key := "shard key"
		if m.ShardKey != nil {
			key = m.ShardKey.GoName
		}
		ids = "each row goes to the shard of its " + key + " and gets a new ID there; the old IDs map to the new ones in table shardgen_legacy_" + m.Table + " (modelmove.NewLegacyIDs)"
	}
	diags.Warnf(m.Pos, "model %s moved from %s to %s: its rows stay in %s until moved (%s): run `go tool shardgen move -pkg %s -model %s` while the running version serves, and deploy this version once it says done",
		m.GoName, from[0], target, from[0], ids, p.Path, m.GoName)
}
