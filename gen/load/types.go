package load

import (
	"fmt"
	"go/types"

	"github.com/shardgen/shardgen/gen/model"
)

// Import paths of the packages whose types shardgen knows by name.
const (
	pgtypePath = "github.com/jackc/pgx/v5/pgtype"
	sqlPath    = "database/sql"
	jsonPath   = "encoding/json"
	timePath   = "time"
)

// sqlNull maps database/sql's Null* types to the kind they hold.
var sqlNull = map[string]model.Kind{
	"NullString":  model.String,
	"NullInt16":   model.Int16,
	"NullInt32":   model.Int32,
	"NullInt64":   model.Int64,
	"NullFloat64": model.Float64,
	"NullBool":    model.Bool,
	"NullTime":    model.Time,
	// NullByte holds a uint8, which fits a smallint.
	"NullByte": model.Int16,
}

// pgtypes maps the pgtype types shardgen stores to the kind they hold.
var pgtypes = map[string]model.Kind{
	"Text":        model.String,
	"Int2":        model.Int16,
	"Int4":        model.Int32,
	"Int8":        model.Int64,
	"Float4":      model.Float32,
	"Float8":      model.Float64,
	"Bool":        model.Bool,
	"Timestamptz": model.Time,
	"Date":        model.Date,
	"UUID":        model.UUID,
	"Numeric":     model.Numeric,
}

// typeMapper maps go/types types of one package to model types.
type typeMapper struct {
	pkg *types.Package
}

// qualifier writes types of other packages with their package name, as the
// user wrote them (sql.NullString, not database/sql.NullString).
func (m typeMapper) qualifier(p *types.Package) string {
	if p == m.pkg {
		return ""
	}
	return p.Name()
}

// unsupported explains why a field's type cannot be stored.
type unsupported struct {
	msg string
}

// fieldType maps the type of a field. json is the field's json option. It
// returns either the model type or why the type is not supported.
func (m typeMapper) fieldType(t types.Type, json bool) (*model.Type, *unsupported) {
	goStr := types.TypeString(t, m.qualifier)
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		inner, bad := m.valueType(p.Elem(), json)
		if bad != nil {
			return nil, bad
		}
		if inner.Nullable || inner.Slice || !pointerable(inner.Kind) {
			return nil, &unsupported{fmt.Sprintf("a pointer to %s is not supported: %s already stores NULL or an empty value; use %s",
				types.TypeString(p.Elem(), m.qualifier), types.TypeString(p.Elem(), m.qualifier), types.TypeString(p.Elem(), m.qualifier))}
		}
		inner.Pointer = true
		inner.Nullable = true
		inner.Go = goStr
		return inner, nil
	}
	typ, bad := m.valueType(t, json)
	if bad != nil {
		return nil, bad
	}
	typ.Go = goStr
	return typ, nil
}

// pointerable reports whether *T makes sense for a T of kind k: scalars,
// times and UUIDs gain NULL; slices and raw JSON already have nil.
func pointerable(k model.Kind) bool {
	switch k {
	case model.Bytes, model.StringArray, model.Int64Array, model.JSONRaw:
		return false
	}
	return true
}

// valueType maps a type that is not a pointer.
func (m typeMapper) valueType(t types.Type, json bool) (*model.Type, *unsupported) {
	t = types.Unalias(t)
	if json {
		return m.jsonType(t)
	}
	switch t := t.(type) {
	case *types.Named:
		return m.namedType(t)
	case *types.Basic:
		k, bad := basicKind(t)
		if bad != nil {
			return nil, bad
		}
		return &model.Type{Kind: k, Ident: model.GoIdent{Name: t.Name()}}, nil
	case *types.Slice:
		return sliceType(t, m)
	case *types.Array:
		if isUUIDArray(t) {
			return &model.Type{Kind: model.UUID, Ident: model.GoIdent{Name: "[16]byte"}}, nil
		}
		return nil, &unsupported{"arrays other than [16]byte (a UUID) are not supported; use a slice ([]string, []int64) or add `shardgen:\"json\"` to store it as jsonb"}
	case *types.Struct, *types.Map:
		return nil, &unsupported{"a struct or map is stored as jsonb only when asked: add `shardgen:\"json\"` to the field's tag"}
	case *types.Chan:
		return nil, &unsupported{"channels cannot be stored"}
	case *types.Signature:
		return nil, &unsupported{"functions cannot be stored"}
	case *types.Interface:
		return nil, &unsupported{"interfaces cannot be stored: the column type must be known when generating"}
	case *types.Pointer:
		return nil, &unsupported{"a pointer to a pointer is not supported"}
	case *types.TypeParam:
		return nil, &unsupported{"type parameters are not supported"}
	}
	return nil, &unsupported{"no PostgreSQL column type matches it"}
}

// namedType maps a defined type: the well-known ones by name, the others
// by their underlying type (type Status string is a text column).
func (m typeMapper) namedType(t *types.Named) (*model.Type, *unsupported) {
	obj := t.Obj()
	ident := model.GoIdent{Name: obj.Name()}
	path := ""
	if obj.Pkg() != nil {
		path = obj.Pkg().Path()
		ident.ImportPath = path
	}
	switch path {
	case timePath:
		if obj.Name() == "Time" {
			return &model.Type{Kind: model.Time, Ident: ident}, nil
		}
		if obj.Name() == "Duration" {
			return nil, &unsupported{"time.Duration is not supported: store it as int64 nanoseconds"}
		}
	case jsonPath:
		if obj.Name() == "RawMessage" {
			return &model.Type{Kind: model.JSONRaw, Ident: ident}, nil
		}
	case sqlPath:
		if k, ok := sqlNull[obj.Name()]; ok {
			return &model.Type{Kind: k, Nullable: true, Ident: ident}, nil
		}
		if obj.Name() == "Null" {
			return nil, &unsupported{"sql.Null[T] is not supported; use *T or one of the sql.NullX types"}
		}
	case pgtypePath:
		if k, ok := pgtypes[obj.Name()]; ok {
			return &model.Type{Kind: k, Nullable: true, Ident: ident}, nil
		}
		return nil, &unsupported{"pgtype." + obj.Name() + " is not supported; supported pgtype types: Bool, Date, Float4, Float8, Int2, Int4, Int8, Numeric, Text, Timestamptz, UUID"}
	}
	if t.TypeArgs().Len() > 0 {
		return nil, &unsupported{"generic types are not supported"}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		k, bad := basicKind(u)
		if bad != nil {
			return nil, bad
		}
		return &model.Type{Kind: k, Ident: ident}, nil
	case *types.Array:
		if isUUIDArray(u) {
			return &model.Type{Kind: model.UUID, Ident: ident}, nil
		}
	case *types.Slice:
		typ, bad := sliceType(u, m)
		if bad != nil {
			return nil, bad
		}
		// A named slice type (type Tags []string) is used by its name.
		return &model.Type{Kind: typ.Kind, Ident: ident}, nil
	case *types.Struct, *types.Map:
		return nil, &unsupported{"a struct or map is stored as jsonb only when asked: add `shardgen:\"json\"` to the field's tag"}
	case *types.Pointer:
		return nil, &unsupported{"named pointer types are not supported; use *T for a nullable column"}
	}
	// Fall back to the unnamed rules for the message (chan, func, ...).
	if _, bad := m.valueType(t.Underlying(), false); bad != nil {
		return nil, bad
	}
	return nil, &unsupported{"no PostgreSQL column type matches it"}
}

// jsonType maps a field tagged json: any struct, map or slice is stored
// as jsonb; json.RawMessage stays raw.
func (m typeMapper) jsonType(t types.Type) (*model.Type, *unsupported) {
	ident := model.GoIdent{Name: types.TypeString(t, m.qualifier)}
	if n, ok := t.(*types.Named); ok {
		ident = model.GoIdent{Name: n.Obj().Name()}
		if n.Obj().Pkg() != nil {
			ident.ImportPath = n.Obj().Pkg().Path()
		}
		if ident.ImportPath == jsonPath && ident.Name == "RawMessage" {
			return &model.Type{Kind: model.JSONRaw, Ident: ident}, nil
		}
	}
	switch t.Underlying().(type) {
	case *types.Struct, *types.Map, *types.Slice, *types.Array:
		return &model.Type{Kind: model.JSON, Ident: ident}, nil
	}
	return nil, &unsupported{"option json stores structs, maps and slices as jsonb, and " + types.TypeString(t, m.qualifier) + " is none of them; remove the option"}
}

// sliceType maps []byte, []string and []int64 (the element may be a named
// type, e.g. []Tag with type Tag string).
func sliceType(s *types.Slice, m typeMapper) (*model.Type, *unsupported) {
	elem := types.Unalias(s.Elem())
	if b, ok := elem.Underlying().(*types.Basic); ok {
		ident := model.GoIdent{Name: b.Name()}
		if n, ok := elem.(*types.Named); ok {
			ident = model.GoIdent{Name: n.Obj().Name()}
			if n.Obj().Pkg() != nil {
				ident.ImportPath = n.Obj().Pkg().Path()
			}
		}
		switch b.Kind() {
		case types.Byte:
			return &model.Type{Kind: model.Bytes, Slice: true, Ident: ident}, nil
		case types.String:
			return &model.Type{Kind: model.StringArray, Slice: true, Ident: ident}, nil
		case types.Int64:
			return &model.Type{Kind: model.Int64Array, Slice: true, Ident: ident}, nil
		}
	}
	return nil, &unsupported{"slices of " + types.TypeString(s.Elem(), m.qualifier) + " are not supported (only []byte, []string and []int64); add `shardgen:\"json\"` to store it as jsonb"}
}

func isUUIDArray(a *types.Array) bool {
	b, ok := a.Elem().Underlying().(*types.Basic)
	return ok && a.Len() == 16 && b.Kind() == types.Byte
}

// basicKind maps a predeclared type. The messages say which type to use
// instead, because the fix is always a one-word edit.
func basicKind(b *types.Basic) (model.Kind, *unsupported) {
	switch b.Kind() {
	case types.Int16:
		return model.Int16, nil
	case types.Int32:
		return model.Int32, nil
	case types.Int64:
		return model.Int64, nil
	case types.Uint32:
		return model.Uint32, nil
	case types.Float32:
		return model.Float32, nil
	case types.Float64:
		return model.Float64, nil
	case types.Bool:
		return model.Bool, nil
	case types.String:
		return model.String, nil
	case types.Int, types.Uint:
		return 0, &unsupported{"its size depends on the platform; use int64 (bigint) or int32 (integer)"}
	case types.Uint64, types.Uintptr:
		return 0, &unsupported{"its values do not all fit in a bigint; use int64"}
	case types.Int8, types.Uint8, types.Uint16:
		return 0, &unsupported{"PostgreSQL has no such small integer; use int16 (smallint) or int32 (integer)"}
	case types.Complex64, types.Complex128:
		return 0, &unsupported{"PostgreSQL has no complex number type"}
	case types.UnsafePointer:
		return 0, &unsupported{"pointers cannot be stored"}
	case types.Invalid:
		return 0, &unsupported{"its type does not compile"}
	}
	return 0, &unsupported{"no PostgreSQL column type matches it"}
}
