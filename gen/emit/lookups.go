package emit

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/shardgen/shardgen/gen/model"
)

// This file writes what a sharded model with unique=global fields
// (model.Model.HasLookups) has besides the other repositories: its lookup
// indexes (one *lookup.Index per field, built in New), the bodies of
// Insert, Update and Delete that keep them through package runtime/lookup,
// the GetBy of a global field (the lookup, then Get), and SweepLookups and
// CheckLookups. The protocol itself is runtime/lookup's.

const lookupPath = model.LookupPath

func lk(name string) *jen.Statement { return jen.Qual(lookupPath, name) }

// lookupValue is the value of global field f of row (or a variable) as the
// lookup takes it: a string or an int64, whatever the field's defined type.
func lookupValue(f *model.Field, v jen.Code) *jen.Statement {
	t := f.Type
	switch {
	case t.Ident.ImportPath == "" && t.Ident.Name == "string" && t.Kind == model.String,
		t.Ident.ImportPath == "" && t.Ident.Name == "int64" && t.Kind == model.Int64:
		return jen.Add(v) // already what the lookup takes
	case t.Kind == model.String:
		return jen.String().Call(v)
	}
	return jen.Int64().Call(v)
}

// claims is the []lookup.Claim of row's global fields.
func claims(mi *modelInfo, row string) *jen.Statement {
	return jen.Index().Add(lk("Claim")).ValuesFunc(func(g *jen.Group) {
		for _, f := range mi.m.GlobalFields() {
			g.Values(jen.Dict{
				jen.Id("Index"): jen.Id("r").Dot(mi.m.LookupField(f)),
				jen.Id("Value"): lookupValue(f, fieldOf(row, f)),
			})
		}
	})
}

// lookupFields declares the repository's lookup indexes.
func lookupFields(g *jen.Group, m *model.Model) {
	for _, f := range m.GlobalFields() {
		g.Id(m.LookupField(f)).Op("*").Add(lk("Index"))
	}
}

// lookupInits adds the lookup indexes to the repository literal of New.
func lookupInits(d jen.Dict, mi *modelInfo, owner jen.Code) {
	m := mi.m
	for _, f := range m.GlobalFields() {
		def := jen.Dict{
			jen.Id("Model"):       jen.Lit(mi.what),
			jen.Id("Field"):       jen.Lit(f.GoName),
			jen.Id("Table"):       jen.Lit(m.LookupTable(f)),
			jen.Id("OwnerTable"):  jen.Lit(m.Table),
			jen.Id("OwnerID"):     jen.Lit(m.PK.Column),
			jen.Id("OwnerColumn"): jen.Lit(f.Column),
		}
		if f.Fold {
			def[jen.Id("Fold")] = jen.True()
		}
		d[jen.Id(m.LookupField(f))] = lk("New").Call(owner, lk("Def").Values(def))
	}
}

// globalNote is the sentence the doc comments of Insert, Update and Delete
// add for a model with lookups.
func globalNote(m *model.Model) string {
	var names []string
	for _, f := range m.GlobalFields() {
		names = append(names, f.GoName)
	}
	return fmt.Sprintf(" %s %s unique across the group (unique=global), kept by lookup tables on other shards; see package runtime/lookup for the protocol and what a transaction promises.",
		joinAnd(names), map[bool]string{true: "is", false: "are"}[len(names) == 1])
}

func joinAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := names[0]
	for _, n := range names[1 : len(names)-1] {
		out += ", " + n
	}
	return out + " and " + names[len(names)-1]
}

// insertLookups is the body of Insert for a model with lookups: the ID is
// minted and locked, the values claimed, then the row written with the ID.
func (e *emitter) insertLookups(b *jen.Group, v variant) {
	m := v.mi.m
	b.Id("shard").Op(":=").Add(shardOfKey(v.group(), m.Group, fieldOf("row", m.ShardKey)))
	v.refuseOtherShard(b, "insert", m.ShardKey.GoName+" %v", []jen.Code{fieldOf("row", m.ShardKey)}, jen.Lit(0))
	args := append([]jen.Code{jen.Id("ctx"), v.query("qInsert"), jen.Id("id")}, fieldArgs("row", v.mi.insertCols)...)
	b.List(jen.Id("id"), jen.Err()).Op(":=").Add(lk("Insert")).Call(jen.Id("ctx"), v.group().Dot("At").Call(jen.Id("shard")), jen.Id("tx"), claims(v.mi, "row"),
		jen.Func().Params(jen.Id("on").Add(rt("On")), jen.Id("id").Int64()).Error().Block(
			jen.List(jen.Id("_"), jen.Err()).Op(":=").Id("on").Dot("Exec").Call(args...),
			jen.Return(jen.Err()),
		))
	b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Lit(0), errorf("insert "+v.mi.what+": %w", jen.Err())))
	b.Add(fieldOf("row", m.PK)).Op("=").Id("id")
	b.Return(jen.Id(m.IDType()).Call(jen.Id("id")), jen.Nil())
}

// updateLookups is the body of Update for a model with lookups (after the
// shard checks): new values are claimed before the row is written, old
// ones released after the commit.
func (e *emitter) updateLookups(b *jen.Group, v variant, args []jen.Code) {
	id := fieldOf("row", v.mi.m.PK)
	v.refuseOtherShard(b, "update", "ID %d", []jen.Code{id})
	b.Err().Op("=").Add(lk("Update")).Call(jen.Id("ctx"), v.group().Dot("At").Call(jen.Id("shard")), jen.Id("tx"), id, claims(v.mi, "row"),
		jen.Func().Params(jen.Id("on").Add(rt("On"))).Params(jen.Bool(), jen.Error()).Block(
			jen.List(jen.Id("tag"), jen.Err()).Op(":=").Id("on").Dot("Exec").Call(args...),
			jen.Return(jen.Id("tag").Dot("RowsAffected").Call().Op(">").Lit(0), jen.Err()),
		))
	b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(errorf("update "+v.mi.what+" %d: %w", id, jen.Err())))
	b.Return(jen.Nil())
}

// deleteLookups is the body of Delete for a model with lookups (after the
// shard is known): the row is deleted, returning its global values, whose
// lookup rows are then released.
func (e *emitter) deleteLookups(b *jen.Group, v variant) {
	m := v.mi.m
	v.bind(b, "delete", "ID %d", []jen.Code{jen.Id("id")})
	var dests []jen.Code
	var rel []jen.Code
	for _, f := range m.GlobalFields() {
		name := e.finderParam(f)
		b.Var().Id(name).Add(e.finderType(f.Type))
		dests = append(dests, jen.Op("&").Id(name))
		rel = append(rel, lk("Claim").Values(jen.Dict{
			jen.Id("Index"): jen.Id("r").Dot(m.LookupField(f)),
			jen.Id("Value"): lookupValue(f, jen.Id(name)),
		}))
	}
	b.If(
		jen.Err().Op(":=").Add(v.exec()).Dot("QueryRow").Call(jen.Id("ctx"), v.query("qDelete"), jen.Int64().Call(jen.Id("id"))).Dot("Scan").Call(dests...),
		jen.Err().Op("!=").Nil(),
	).Block(jen.Return(errorf("delete "+v.mi.what+" %d: %w", jen.Id("id"), jen.Err())))
	b.Add(lk("Release")).Call(append([]jen.Code{jen.Id("ctx"), jen.Id("tx"), jen.Int64().Call(jen.Id("id"))}, rel...)...)
	b.Return(jen.Nil())
}

// getByGlobal writes the GetBy of a unique=global field: the owner's ID
// from the lookup, then the row by Get, returned only if it holds the
// value (a lookup row can be an orphan).
func (e *emitter) getByGlobal(f *jen.File, v variant, fd model.Finder) {
	m := v.mi.m
	val := e.finderParam(fd.Field)
	text := fmt.Sprintf("%s returns the %s whose %s is %s, on whichever shard holds it: %s is\n"+
		"unique across group %q (unique=global). It is two round trips, never a\n"+
		"fan-out: the lookup row of the value, on the shard the value hashes to,\n"+
		"then the row by the ID it names, returned only if it holds the value.\n"+
		"The error wraps runtime.ErrNotFound when there is none.", fd.Name, m.GoName, fd.Field.GoName, val, fd.Field.GoName, m.Group.Name)
	if fd.Field.Fold {
		text += fmt.Sprintf(" Case is ignored (fold): the row's %s may differ from %s in case.", fd.Field.GoName, val)
	}
	op := "get " + v.mi.what + " by " + fd.Field.GoName
	ix := jen.Id("r").Dot(m.LookupField(fd.Field))
	e.op(f, v, text, fd.Name, []param{{val, e.finderType(fd.Field.Type)}}, []jen.Code{jen.Op("*").Add(e.local(m.GoName)), jen.Error()}, func(b *jen.Group) {
		b.List(jen.Id("id"), jen.Err()).Op(":=").Add(ix).Dot("Find").Call(jen.Id("ctx"), lookupValue(fd.Field, jen.Id(val)))
		b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), errorf(op+" %v: %w", jen.Id(val), jen.Err())))
		b.List(jen.Id("row"), jen.Err()).Op(":=").Id("r").Dot(model.OpBody("Get")).Call(jen.Id("ctx"), jen.Id("tx"), jen.Id(m.IDType()).Call(jen.Id("id")))
		b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), errorf(op+" %v: %w", jen.Id(val), jen.Err())))
		b.If(jen.Op("!").Add(ix).Dot("Holds").Call(lookupValue(fd.Field, fieldOf("row", fd.Field)), lookupValue(fd.Field, jen.Id(val)))).
			Block(jen.Return(jen.Nil(), errorf(op+" %v: %w", jen.Id(val), rt("ErrNotFound"))))
		b.Return(jen.Id("row"), jen.Nil())
	})
}

// lookupMethods writes SweepLookups and CheckLookups.
func (e *emitter) lookupMethods(f *jen.File, mi *modelInfo) {
	m := mi.m
	var ixs []jen.Code
	var names []string
	for _, fl := range m.GlobalFields() {
		ixs = append(ixs, jen.Id("r").Dot(m.LookupField(fl)))
		names = append(names, fl.GoName)
	}
	for _, meth := range []struct{ name, fn, text string }{
		{model.SweepLookupsMethod, "SweepAll", fmt.Sprintf("%s removes the orphans of the lookups of %s: lookup rows left by\n"+
			"inserts that crashed or rolled back, and by updates and deletes that\n"+
			"crashed before releasing a value. Orphans never make GetBy return a wrong\n"+
			"row and the next insert of their value reclaims them, so this is\n"+
			"housekeeping: a job that visits every shard, not a request.", model.SweepLookupsMethod, joinAnd(names))},
		{model.CheckLookupsMethod, "CheckAll", fmt.Sprintf("%s reports, changing nothing, where the lookups of %s and the\n"+
			"rows disagree: orphans, and rows no lookup row points at. It reads every\n"+
			"shard twice; writes in flight show briefly.", model.CheckLookupsMethod, joinAnd(names))},
	} {
		f.Add(doc(meth.text)).Func().Params(jen.Id("r").Op("*").Id(m.RepoName())).Id(meth.name).Params(ctxParam()).
			Params(jen.Index().Add(lk("Report")), jen.Error()).
			Block(jen.Return(lk(meth.fn).Call(append([]jen.Code{jen.Id("ctx")}, ixs...)...)))
	}
}
