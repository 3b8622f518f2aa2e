package model

// This file decides the finders of a model: the repository methods that
// find rows by a field marked unique (GetBy<Field>) or index
// (ListBy<Field>). gen/emit writes them, Idents lists their names, and
// annotations/doc.go documents the rules.

// Finder is one generated finder method.
type Finder struct {
	// Name is the method name: GetBy and the field name ("GetByEmail",
	// "GetByExternalID"), or ListBy and the field name without its "ID"
	// suffix, as a relation accessor has it ("ListByPost" for PostID).
	Name string
	// Field is the field the finder matches on, by equality.
	Field *Field
	// Unique is true for GetBy (one row or runtime.ErrNotFound), false for
	// ListBy (a keyset-paged list like List).
	Unique bool
	// Global is true for the GetBy of a unique=global field: it takes no
	// shard key and finds the row through the field's lookup table.
	Global bool
}

// CanFind reports whether rows can be found by equality on a field of type
// t: integers, strings, byte strings, times, dates and UUIDs. Floats,
// numerics, booleans, arrays and JSON get no finder (equality on them is
// rarely what a lookup means, and a btree index on jsonb is not a lookup).
func (t *Type) CanFind() bool {
	if t == nil || t.Slice && t.Kind != Bytes {
		return false
	}
	switch t.Kind {
	case Int16, Int32, Int64, Uint32, String, Bytes, Time, UUID, Date:
		return true
	}
	return false
}

// Finders are m's finders in field order: one GetBy per unique field and
// one ListBy per index field that is neither unique nor the field of a
// relation (whose accessor already lists by it). The primary key and the
// shard key get none: Get and List find by them.
func (m *Model) Finders() []Finder {
	rel := map[*Field]bool{}
	for _, r := range m.Relations {
		rel[r.Field] = true
	}
	var out []Finder
	for _, f := range m.Fields {
		if f == m.PK || f == m.ShardKey || f.PK || !f.Type.CanFind() {
			continue
		}
		switch {
		case f.Global:
			out = append(out, Finder{Name: "GetBy" + upperFirst(f.GoName), Field: f, Unique: true, Global: true})
		case f.Unique:
			out = append(out, Finder{Name: "GetBy" + upperFirst(f.GoName), Field: f, Unique: true})
		case f.Index && !rel[f]:
			out = append(out, Finder{Name: "ListBy" + listStem(f.GoName), Field: f})
		}
	}
	return out
}

// HasCountByKey reports whether m's repository has CountByKey (the rows of
// one shard key): every sharded model.
func (m *Model) HasCountByKey() bool { return m.Placement == InGroup && m.ShardKey != nil }

// GlobalFields are m's unique=global fields in field order: each has a
// lookup table (LookupTable) that Insert, Update and Delete keep.
func (m *Model) GlobalFields() []*Field {
	var out []*Field
	for _, f := range m.Fields {
		if f.Global {
			out = append(out, f)
		}
	}
	return out
}

// HasLookups reports whether m's repository keeps lookup tables: a sharded
// model with a unique=global field. Its Insert then mints the ID first
// and writes it explicitly (the lookup row names the ID before the owner
// row exists), and it gets SweepLookups and CheckLookups.
func (m *Model) HasLookups() bool { return m.Placement == InGroup && len(m.GlobalFields()) > 0 }

// Names of the lookup maintenance methods of a repository with lookups.
const (
	SweepLookupsMethod = "SweepLookups"
	CheckLookupsMethod = "CheckLookups"
)

// LookupField names the repository field holding the *lookup.Index of a
// unique=global field: "lookupEmail".
func (m *Model) LookupField(f *Field) string { return "lookup" + upperFirst(f.GoName) }
