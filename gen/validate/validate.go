// Package validate checks a loaded model against shardgen's rules: every
// placement names a declared database or group, shard keys exist and can be
// hashed, every relation is co-located (both rows always on one database or
// one shard), names are safe PostgreSQL identifiers that fit in 63 bytes,
// tables and columns are unique, every model has one int64 primary key.
//
// Every violation is a positioned error and all are reported in one run; a
// model that the loader could only partly build (unsupported field types,
// unresolved names) is still checked as far as it goes.
package validate

import (
	"fmt"
	"go/token"
	"path/filepath"
	"strings"

	"github.com/shardgen/shardgen/annotations"
	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
)

// ShardBits is the number of logical-shard bits of the ID layout generated
// code mints IDs with: a group can have at most 2^ShardBits logical shards,
// because every ID names its shard.
const ShardBits = runtime.DefaultShardBits

// MaxShards is the largest shard count of a group (8192).
const MaxShards = 1 << ShardBits

// Package checks p and records every problem in diags.
func Package(p *model.Package, diags *diag.List) {
	c := &checker{p: p, d: diags}
	c.databases()
	c.groups()
	c.tables()
	c.generatedNames()
	c.buildConstraints()
	for _, m := range p.Models {
		c.placement(m)
		c.columns(m)
		c.primaryKey(m)
		c.upserts(m) // upsert.go
		c.relations(m)
		c.globals(m)
		c.derivedNames(m)
		c.redis(m) // redis.go
	}
}

// globals checks the unique=global fields of m: only a sharded model has
// them (a database table's unique constraint already holds across it), the
// value must hash like a shard key (a non-null integer or string), it is
// neither the primary key nor the shard key, and fold is for strings.
func (c *checker) globals(m *model.Model) {
	for _, f := range m.Fields {
		if !f.Global {
			continue
		}
		switch {
		case m.Placement != model.InGroup:
			c.d.Errorf(f.GlobalPos, "unique=global on %s.%s: %s is not sharded, so its table is one table and plain unique already holds across it; write unique",
				m.GoName, f.GoName, m.GoName)
		case f == m.PK || f.PK:
			c.d.Errorf(f.GlobalPos, "unique=global on the primary key %s.%s: an ID is unique across the group already; drop the option", m.GoName, f.GoName)
		case f == m.ShardKey:
			c.d.Errorf(f.GlobalPos, "unique=global on the shard key %s.%s: the rows of one key share a shard, so a value unique across the group would allow one row per key; use a field of its own", m.GoName, f.GoName)
		case f.Type == nil:
			// its type is already reported
		case !f.Type.CanShard():
			c.d.Errorf(f.GlobalPos, "unique=global on %s.%s of type %s: a global unique value is hashed to the shard of its lookup row, so it must be int64, int32, int16 or string (not a pointer, float, bool, time or bytes)",
				m.GoName, f.GoName, f.Type.Go)
		case f.Fold && f.Type.Kind != model.String:
			c.d.Errorf(f.FoldPos, "fold on %s.%s of type %s: fold compares strings without case; drop it", m.GoName, f.GoName, f.Type.Go)
		}
	}
}

// buildConstraints reports models whose files build under another
// constraint than the first model's. The generated files carry the models'
// constraint (model.Package.BuildConstraint), and shardgen.go refers to
// every model, so all of them must build together.
func (c *checker) buildConstraints() {
	if len(c.p.Models) == 0 {
		return
	}
	first := c.p.Models[0]
	for _, m := range c.p.Models[1:] {
		if m.Build != first.Build {
			c.d.Errorf(m.Pos, "model %s is declared in a file built %s, but model %s (%s) in one built %s; the generated code of a package refers to every model, so all of them must build under the same constraint: move them to files with the same //go:build line (the generated files carry it)",
				m.GoName, buildText(m.Build), first.GoName, at(first), buildText(first.Build))
		}
	}
}

func buildText(expr string) string {
	if expr == "" {
		return "always"
	}
	return "only when " + expr
}

type checker struct {
	p *model.Package
	d *diag.List
}

// where says where a model lives, for messages.
func where(m *model.Model) string {
	switch {
	case m.Group != nil:
		return fmt.Sprintf("shard group %q", m.Group.Name)
	case m.Database != nil:
		return fmt.Sprintf("database %q", m.Database.Name)
	}
	return "nowhere"
}

// line names a position for "see also" parts of messages: the base file
// name and line, independent of where the package lives.
func line(pos model.Name) string {
	return fmt.Sprintf("%s:%d", filepath.Base(pos.Pos.Filename), pos.Pos.Line)
}

func at(m *model.Model) string { return line(model.Name{Pos: m.Pos}) }

func (c *checker) databases() {
	seen := map[string]*model.Database{}
	for i, db := range c.p.Databases {
		if i == 0 && db.Name == model.DefaultDatabase && !db.Pos.IsValid() {
			// The implicit default database the loader adds.
			seen[db.Name] = db
			continue
		}
		if db.Name == model.DefaultDatabase {
			c.d.Errorf(db.Pos, "database %q always exists and is not declared; remove this declaration", db.Name)
			continue
		}
		if first, dup := seen[db.Name]; dup {
			c.d.Errorf(db.Pos, "database %q is declared twice (first at %s); remove one declaration", db.Name, line(model.Name{Pos: first.Pos}))
			continue
		}
		seen[db.Name] = db
		c.identifier(db.Pos, "database name", db.Name)
		if len(db.Models) == 0 {
			c.d.Warnf(db.Pos, "database %q is declared but no model is placed on it", db.Name)
		}
	}
}

func (c *checker) groups() {
	seen := map[string]*model.Group{}
	for _, g := range c.p.Groups {
		if first, dup := seen[g.Name]; dup {
			c.d.Errorf(g.Pos, "shard group %q is declared twice (first at %s); remove one declaration", g.Name, line(model.Name{Pos: first.Pos}))
			continue
		}
		seen[g.Name] = g
		if c.identifier(g.Pos, "shard group name", g.Name) {
			if strings.HasPrefix(g.Name, "pg_") {
				c.d.Errorf(g.Pos, "shard group name %q starts with pg_, which PostgreSQL reserves for its own schemas; rename the group", g.Name)
			} else if s := g.LongestSchemaName(); len(s) > model.MaxIdentifier {
				c.d.Errorf(g.Pos, "shard group name %q is too long: its shard schemas are named like %s, %d bytes, over PostgreSQL's %d-byte limit", g.Name, s, len(s), model.MaxIdentifier)
			}
		}
		pos := g.ShardsPos
		if !pos.IsValid() {
			pos = g.Pos
		}
		switch {
		case g.Shards < 1:
			// A missing or non-positive count is a syntax error the
			// annotations parser has reported.
		case g.Shards > MaxShards:
			c.d.Errorf(pos, "shard group %q has %d shards, more than the %d (2^%d) that the ID layout's %d shard bits can name; every ID carries its logical shard", g.Name, g.Shards, MaxShards, ShardBits, ShardBits)
		case g.Shards&(g.Shards-1) != 0:
			lo := 1
			for lo*2 < g.Shards {
				lo *= 2
			}
			c.d.Errorf(pos, "shard group %q has %d shards, which is not a power of two: logical shards are split evenly over servers and moved in halves; use %d or %d", g.Name, g.Shards, lo, lo*2)
		}
		if len(g.Models) == 0 {
			c.d.Warnf(g.Pos, "shard group %q is declared but no model is sharded in it", g.Name)
		}
	}
}

// identifier checks a name that becomes a PostgreSQL identifier (or a
// database/group name in configuration). It reports whether the name is
// acceptable.
func (c *checker) identifier(pos token.Position, what, name string) bool {
	if !annotations.IsSQLName(name) {
		c.d.Errorf(pos, "%s %q is not a safe SQL name: names use lowercase letters, digits and underscores and do not start with a digit", what, name)
		return false
	}
	if len(name) > model.MaxIdentifier {
		c.d.Errorf(pos, "%s %q is %d bytes long, over PostgreSQL's %d-byte limit (longer names are silently truncated)", what, name, len(name), model.MaxIdentifier)
		return false
	}
	return true
}

// tables checks table names: safe, and unique within each database and
// each group (a group's tables share every shard schema).
func (c *checker) tables() {
	type key struct{ kind, name, table string }
	seen := map[key]*model.Model{}
	for _, m := range c.p.Models {
		if !c.identifier(m.TablePos, "table name", m.Table) {
			continue
		}
		var k key
		switch {
		case m.Group != nil:
			k = key{"group", m.Group.Name, m.Table}
		case m.Database != nil:
			k = key{"database", m.Database.Name, m.Table}
		default:
			continue
		}
		if first, dup := seen[k]; dup {
			c.d.Errorf(m.TablePos, "table %q of %s is already the table of %s (%s) in %s; set a different table= on one of them",
				m.Table, m.GoName, first.GoName, at(first), where(m))
			continue
		}
		seen[k] = m
	}
	// Lookup tables share the shard schemas with the group's tables.
	for _, m := range c.p.Models {
		if m.Group == nil {
			continue
		}
		for _, f := range m.GlobalFields() {
			k := key{"group", m.Group.Name, m.LookupTable(f)}
			if first, dup := seen[k]; dup {
				c.d.Errorf(f.GlobalPos, "the lookup table %q of %s.%s is already the table of %s (%s) in %s; set a different table= on %s",
					k.table, m.GoName, f.GoName, first.GoName, at(first), where(m), first.GoName)
			}
		}
	}
}

// placement checks that the model's database or group is declared and its
// shard key can shard.
func (c *checker) placement(m *model.Model) {
	switch m.Placement {
	case model.OnPartition:
		if m.Where.Text == model.DefaultDatabase {
			c.d.Errorf(m.Where.Pos, "%s is placed on the default database with //shardgen:partition; write //shardgen:default instead", m.GoName)
		} else if m.Database == nil {
			c.d.Errorf(m.Where.Pos, "database %q is not declared%s; declare it before the package clause with //shardgen:database %s",
				m.Where.Text, didYouMean(m.Where.Text, c.databaseNames()), m.Where.Text)
		}
	case model.InGroup:
		if m.Group == nil {
			c.d.Errorf(m.Where.Pos, "shard group %q is not declared%s; declare it before the package clause with //shardgen:group %s shards=<n>",
				m.Where.Text, didYouMean(m.Where.Text, c.groupNames()), m.Where.Text)
		}
		c.shardKey(m)
	}
}

func (c *checker) shardKey(m *model.Model) {
	f := m.ShardKey
	if m.Key.Text == "" {
		return // a missing or malformed key= is reported by the parser
	}
	if f == nil {
		names := make([]string, 0, len(m.Fields))
		for _, f := range m.Fields {
			names = append(names, f.GoName)
		}
		hint := didYouMean(m.Key.Text, names)
		if hint == "" {
			hint = "; the key must be an exported field stored in a column (not db:\"-\")"
		}
		c.d.Errorf(m.Key.Pos, "shard key %s is not a stored field of %s%s", m.Key.Text, m.GoName, hint)
		return
	}
	if f.Type == nil {
		return // its type is already reported
	}
	if !f.Type.CanShard() {
		c.d.Errorf(m.Key.Pos, "shard key %s.%s has type %s; a shard key must be int64, int32, int16 or string (not a pointer, float, bool, time or bytes): its value must never be NULL and must hash to the same shard forever",
			m.GoName, f.GoName, f.Type.Go)
		return
	}
	if f.PK {
		c.d.Errorf(m.Key.Pos, "%s cannot be sharded by its primary key %s: the ID is minted inside the shard, so it cannot choose the shard; shard by a field that groups rows, such as the owner's ID", m.GoName, f.GoName)
		return
	}
	g := m.Group
	if g == nil || g.Key == nil || g.Key.Kind == f.Type.Kind {
		return
	}
	// Name the model whose key set the group's key type.
	first := ""
	for _, o := range g.Models {
		if o.ShardKey != nil && o.ShardKey.Type == g.Key {
			first = fmt.Sprintf(" (%s.%s)", o.GoName, o.ShardKey.GoName)
			break
		}
	}
	c.d.Errorf(m.Key.Pos, "shard key %s.%s is %s but shard group %q is keyed by %s%s: every model of a group uses the same key type, so that one key value finds the same shard for all of them",
		m.GoName, f.GoName, f.Type.Kind, g.Name, g.Key.Kind, first)
}

func (c *checker) databaseNames() []string {
	var out []string
	for _, d := range c.p.Databases {
		if d.Name != model.DefaultDatabase {
			out = append(out, d.Name)
		}
	}
	return out
}

func (c *checker) groupNames() []string {
	var out []string
	for _, g := range c.p.Groups {
		out = append(out, g.Name)
	}
	return out
}

// columns checks column names: safe and unique within the table.
func (c *checker) columns(m *model.Model) {
	seen := map[string]*model.Field{}
	for _, f := range m.Fields {
		if !c.identifier(f.ColumnPos, "column name", f.Column) {
			continue
		}
		if first, dup := seen[f.Column]; dup {
			c.d.Errorf(f.ColumnPos, "column %q of table %s is already the column of field %s (%s); give one of them another name with a db tag",
				f.Column, m.Table, first.GoName, line(model.Name{Pos: first.Pos}))
			continue
		}
		seen[f.Column] = f
	}
}

// primaryKey checks that m has exactly one int64 primary key.
func (c *checker) primaryKey(m *model.Model) {
	if m.PK == nil {
		c.d.Errorf(m.Pos, "%s has no primary key: add a field `ID int64`, or tag an int64 field `shardgen:\"pk\"`", m.GoName)
		return
	}
	var pks []*model.Field
	for _, f := range m.Fields {
		if f.PK {
			pks = append(pks, f)
		}
	}
	for i := 1; i < len(pks); i++ {
		f := pks[i]
		c.d.Errorf(f.Pos, "%s has a second primary-key field %s (the first is %s); composite primary keys are not supported: keep one int64 pk and tag the others unique",
			m.GoName, f.GoName, pks[0].GoName)
	}
	t := m.PK.Type
	if t == nil {
		return
	}
	if t.Kind != model.Int64 || t.Nullable || t.Slice {
		why := "the default and partition databases mint it as an identity column"
		if m.Placement == model.InGroup {
			why = "it is minted inside the shard and carries the shard's number"
		}
		c.d.Errorf(m.PK.Pos, "primary key %s.%s has type %s; a primary key must be int64 (not null): %s", m.GoName, m.PK.GoName, t.Go, why)
	}
}

// relations checks that every relation names a model and is co-located.
func (c *checker) relations(m *model.Model) {
	for _, r := range m.Relations {
		if t := r.Field.Type; t != nil && (t.Kind != model.Int64 || t.Slice) {
			c.d.Errorf(r.Field.Pos, "relation field %s.%s has type %s; a ref= field holds the other model's primary key and must be int64 (or *int64, sql.NullInt64 for an optional relation)",
				m.GoName, r.Field.GoName, t.Go)
		}
		if r.ViaName.Text != "" && r.Via == nil {
			names := make([]string, 0, len(m.Fields))
			for _, f := range m.Fields {
				names = append(names, f.GoName)
			}
			c.d.Errorf(r.ViaName.Pos, "via=%s is not a stored field of %s%s", r.ViaName.Text, m.GoName, didYouMean(r.ViaName.Text, names))
		}
		if r.To == nil {
			if d, ok := c.declared(r.ToName.Text); ok {
				// Most often a struct whose directive has an error of its
				// own: say why it is no model rather than that it is unknown.
				c.d.Errorf(r.ToName.Pos, "ref=%s: %s (%s) is not a model: it has no valid placement directive (//shardgen:default, //shardgen:partition or //shardgen:shard) in its doc comment",
					r.ToName.Text, r.ToName.Text, line(d))
				continue
			}
			names := make([]string, 0, len(c.p.Models))
			for _, o := range c.p.Models {
				names = append(names, o.GoName)
			}
			c.d.Errorf(r.ToName.Pos, "ref=%s is not a model of this package%s", r.ToName.Text, didYouMean(r.ToName.Text, names))
			continue
		}
		c.colocated(r)
	}
}

// declared finds a package-level identifier of the package's own files.
func (c *checker) declared(name string) (model.Name, bool) {
	for _, d := range c.p.Declared {
		if d.Text == name {
			return d, true
		}
	}
	return model.Name{}, false
}

// colocated checks that the two rows of a relation always live together:
// on the same database, or on the same shard of one group because the
// referencing model's shard key holds the referenced row's shard key.
func (c *checker) colocated(r *model.Relation) {
	from, to := r.From, r.To
	if (from.Database == nil && from.Group == nil) || (to.Database == nil && to.Group == nil) {
		return // an undeclared placement is reported on its own
	}
	rel := fmt.Sprintf("relation %s.%s -> %s", from.GoName, r.Field.GoName, to.GoName)
	plain := fmt.Sprintf("store a plain ID (remove ref=%s)", to.GoName)
	switch {
	case from.Database != nil && to.Database != nil:
		if from.Database != to.Database {
			c.d.Errorf(r.Pos, "%s crosses databases: %s is on %s and %s on %s, so the two rows live on different servers and no foreign key or join can span them; %s, or place both models on the same database",
				rel, from.GoName, where(from), to.GoName, where(to), plain)
		} else if r.ViaName.Text != "" {
			c.d.Errorf(r.ViaName.Pos, "via=%s has no effect: both models are on %s; via names the shard key of a relation inside a shard group, remove it", r.ViaName.Text, where(from))
		}
	case from.Group != nil && to.Group != nil && from.Group != to.Group:
		c.d.Errorf(r.Pos, "%s is not co-located: %s is sharded in group %q and %s in group %q, and each group spreads its rows over its own shards and servers, so the two rows may live on different servers; %s, or shard both models in one group by the same key",
			rel, from.GoName, from.Group.Name, to.GoName, to.Group.Name, plain)
	case from.Group != nil && to.Group != nil:
		c.sameGroup(r, rel, plain)
	default:
		c.d.Errorf(r.Pos, "%s is not co-located: %s is on %s and %s on %s, so the two rows live on different servers and no foreign key or join can span them; %s and load the %s separately",
			rel, from.GoName, where(from), to.GoName, where(to), plain, to.GoName)
	}
}

// sameGroup checks a relation inside one group: co-located only when via
// names the referencing model's shard key, which declares that it holds the
// referenced row's shard key value.
func (c *checker) sameGroup(r *model.Relation, rel, plain string) {
	from, to := r.From, r.To
	g := from.Group
	fromKey, toKey := from.Key.Text, to.Key.Text
	if r.Via == nil {
		if r.ViaName.Text != "" {
			return // unknown via= is reported on its own
		}
		if from == to {
			c.d.Errorf(r.Pos, "%s needs via=%s: rows of %s are spread over the shards of group %q by %s; declare that the referenced row has the same %s with via=%s (the shard key), or %s",
				rel, fromKey, from.GoName, g.Name, fromKey, fromKey, fromKey, plain)
			return
		}
		c.d.Errorf(r.Pos, "%s is not co-located: both are in shard group %q, but %s is placed by its %s and %s by its %s, so the two rows may live on different shards; declare that %s.%s holds the %s's %s with via=%s (both sharded by the same key value), or %s",
			rel, g.Name, model.A(from.GoName), fromKey, model.A(to.GoName), toKey, from.GoName, fromKey, to.GoName, toKey, fromKey, plain)
		return
	}
	if from.ShardKey != nil && r.Via != from.ShardKey {
		c.d.Errorf(r.ViaName.Pos, "%s: via=%s must be %s's shard key %s: only the field that places %s can also say which shard the %s is on; shard %s by %s, or %s",
			rel, r.Via.GoName, from.GoName, from.ShardKey.GoName, model.A(from.GoName), to.GoName, from.GoName, r.Via.GoName, plain)
	}
}

// derivedNames checks the identifiers shardgen derives from the table and
// column names (constraints, indexes, sequences) against the 63-byte limit.
func (c *checker) derivedNames(m *model.Model) {
	if !annotations.IsSQLName(m.Table) || len(m.Table) > model.MaxIdentifier {
		return // the table name itself is reported
	}
	for _, n := range m.DerivedNames() {
		if len(n.Name) > model.MaxIdentifier {
			c.d.Errorf(m.TablePos, "table %s: the name of its %s, %s, is %d bytes, over PostgreSQL's %d-byte limit; choose a shorter table= or column name",
				m.Table, n.What, n.Name, len(n.Name), model.MaxIdentifier)
		}
	}
}
