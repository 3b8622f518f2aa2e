package emit

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// This file writes InsertMany, one body for both repository variants (see
// emitter.op): the runtime (Group.InsertMany, Target.InsertMany) groups the
// rows by shard and server and writes the multi-row statements; the
// generated code only routes each row and hands over its values.

func (e *emitter) insertMany(f *jen.File, v variant) {
	m := v.mi.m
	var text string
	if v.mi.sharded {
		text = fmt.Sprintf("InsertMany stores rows, each on the logical shard of its %[1]s, and sets\n"+
			"each row's %[2]s to the ID the database minted inside that shard. The rows\n"+
			"of one shard are one multi-row INSERT; the statements of one server go\n"+
			"as one pipeline (one round trip, written all or none), servers in\n"+
			"parallel. When a server fails the other servers' rows are still written\n"+
			"and the error is a *runtime.FanOutError naming the failed shards, whose\n"+
			"rows keep %[2]s 0. In a transaction every row must be on its shard: a row\n"+
			"of another shard is refused (runtime.ErrWrongShard) before anything is\n"+
			"written.", m.ShardKey.GoName, m.PK.GoName)
	} else {
		text = fmt.Sprintf("InsertMany stores rows with multi-row INSERT statements in one round trip\n"+
			"and sets each row's %s to the ID the database minted.", m.PK.GoName)
	}
	text += fmt.Sprintf(" Any %s already in a row is ignored.", m.PK.GoName)
	if m.HasLookups() {
		text = fmt.Sprintf("InsertMany stores rows one after the other, each as Insert does (its own\n"+
			"claims of its global values, then the row), and sets each row's %[1]s. It\n"+
			"stops at the first row that fails, returning an error that names it and\n"+
			"matches what Insert returned (lookup.ErrDuplicate for a taken value);\n"+
			"the rows before it are written. A model with global unique fields is not\n"+
			"batched: every row's lookup rows live on other shards and are claimed\n"+
			"first.", m.PK.GoName) + globalNote(m)
	}
	e.op(f, v, text, "InsertMany", []param{{"rows", jen.Index().Op("*").Add(e.local(m.GoName))}}, []jen.Code{jen.Error()}, func(b *jen.Group) {
		if m.HasLookups() {
			b.For(jen.List(jen.Id("i"), jen.Id("row")).Op(":=").Range().Id("rows")).Block(
				jen.If(jen.List(jen.Id("_"), jen.Err()).Op(":=").Id("r").Dot("insert").Call(jen.Id("ctx"), jen.Id("tx"), jen.Id("row")), jen.Err().Op("!=").Nil()).
					Block(jen.Return(errorf("insert many "+v.mi.what+": row %d: %w", jen.Id("i"), jen.Err()))),
			)
			b.Return(jen.Nil())
			return
		}
		args := []jen.Code{jen.Return(jen.Id("a"))} // only the minted ID: (DEFAULT)
		if len(v.mi.insertCols) > 0 {
			args = []jen.Code{
				jen.Id("row").Op(":=").Id("rows").Index(jen.Id("i")),
				jen.Return(jen.Append(append([]jen.Code{jen.Id("a")}, fieldArgs("row", v.mi.insertCols)...)...)),
			}
		}
		rows := jen.Dict{
			jen.Id("N"):    jen.Len(jen.Id("rows")),
			jen.Id("Cols"): jen.Lit(len(v.mi.insertCols)),
			jen.Id("Args"): jen.Func().Params(jen.Id("i").Int(), jen.Id("a").Index().Any()).Index().Any().Block(args...),
			jen.Id("SetID"): jen.Func().Params(jen.Id("i").Int(), jen.Id("id").Int64()).Block(
				jen.Id("rows").Index(jen.Id("i")).Dot(m.PK.GoName).Op("=").Id("id"),
			),
		}
		var call *jen.Statement
		if v.mi.sharded {
			b.Id("shards").Op(":=").Make(jen.Index().Add(rt("Shard")), jen.Len(jen.Id("rows")))
			b.For(jen.List(jen.Id("i"), jen.Id("row")).Op(":=").Range().Id("rows")).Block(
				jen.Id("shards").Index(jen.Id("i")).Op("=").Add(shardOfKey(v.group(), m.Group, fieldOf("row", m.ShardKey))),
			)
			rows[jen.Id("Shards")] = jen.Id("shards")
			call = v.group().Dot("InsertMany")
		} else {
			call = jen.Id("r").Dot("target").Dot("InsertMany")
		}
		b.If(
			jen.Err().Op(":=").Add(call).Call(jen.Id("ctx"), jen.Id("tx"), v.query("qInsertMany"), rt("InsertRows").Values(rows)),
			jen.Err().Op("!=").Nil(),
		).Block(jen.Return(errorf("insert many "+v.mi.what+": %w", jen.Err())))
		b.Return(jen.Nil())
	})
}
