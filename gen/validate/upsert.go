package validate

import (
	"github.com/shardgen/shardgen/gen/model"
)

// upserts checks the upsert targets and the row version of m: an upsert
// target must be the primary key or unique (ON CONFLICT needs a unique
// constraint on exactly that column), a version must be a non-null integer
// that is neither the primary key nor the shard key nor unique, and a
// model has at most one.
func (c *checker) upserts(m *model.Model) {
	for _, f := range m.Fields {
		switch {
		case f.Upsert && f.Version:
			c.d.Errorf(f.UpsertPos, "field %s.%s is the row version and cannot be an upsert target", m.GoName, f.GoName)
		case f.Upsert && f != m.PK && !f.PK && !f.Unique:
			c.d.Errorf(f.UpsertPos, "upsert target %s.%s is not unique: ON CONFLICT needs a unique constraint on the column; tag the field `shardgen:\"unique,upsert\"`, or upsert on the primary key", m.GoName, f.GoName)
		}
	}
	var first *model.Field
	for _, f := range m.Fields {
		if !f.Version {
			continue
		}
		switch {
		case first != nil:
			c.d.Errorf(f.VersionPos, "%s has a second version field %s (the first is %s, %s); a model has one row version", m.GoName, f.GoName, first.GoName, line(model.Name{Pos: first.Pos}))
			continue
		case f == m.PK || f.PK:
			c.d.Errorf(f.VersionPos, "version field %s.%s is the primary key; the row version is a field of its own that Update bumps", m.GoName, f.GoName)
		case f == m.ShardKey:
			c.d.Errorf(f.VersionPos, "version field %s.%s is the shard key; the row version is a field of its own that Update bumps", m.GoName, f.GoName)
		case f.Unique:
			c.d.Errorf(f.VersionPos, "version field %s.%s is unique; versions of different rows repeat, drop unique", m.GoName, f.GoName)
		case m.HasLookups():
			c.d.Errorf(f.VersionPos, "version field %s.%s on a model with unique=global fields: a versioned Update does not maintain the global lookups yet", m.GoName, f.GoName)
		case f.Type != nil && !f.Type.CanVersion():
			c.d.Errorf(f.VersionPos, "version field %s.%s has type %s; a row version must be an integer: int64, int32 or int16 (not a pointer or nullable type)", m.GoName, f.GoName, f.Type.Go)
		}
		if first == nil {
			first = f
		}
	}
}
