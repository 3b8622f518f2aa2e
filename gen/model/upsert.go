package model

// This file decides the upserts and the row version of a model: the
// repository methods UpsertBy<Field> (insert or update on a conflict of
// the field, option "upsert") and the field Update matches on and bumps
// (option "version"). gen/validate checks them, gen/emit writes them,
// Idents lists their names, and annotations/doc.go documents the rules.

// Upsert is one generated upsert method.
type Upsert struct {
	// Name is UpsertBy and the field name: "UpsertByID", "UpsertBySlug".
	Name string
	// Field is the conflict target: the primary key or a unique field.
	Field *Field
}

// Upserts are m's upserts in field order: one per field with the upsert
// option.
func (m *Model) Upserts() []Upsert {
	var out []Upsert
	for _, f := range m.Fields {
		if f.Upsert {
			out = append(out, Upsert{Name: "UpsertBy" + upperFirst(f.GoName), Field: f})
		}
	}
	return out
}

// VersionField is m's row version (the first field with the version
// option; the validator refuses a second), nil when it has none.
func (m *Model) VersionField() *Field {
	for _, f := range m.Fields {
		if f.Version {
			return f
		}
	}
	return nil
}

// CanVersion reports whether t can be a row version: a non-null integer
// that UPDATE can bump with version + 1.
func (t *Type) CanVersion() bool {
	if t == nil || t.Nullable || t.Pointer || t.Slice {
		return false
	}
	switch t.Kind {
	case Int16, Int32, Int64:
		return true
	}
	return false
}
