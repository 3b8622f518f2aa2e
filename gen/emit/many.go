package emit

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/runtime"
)

// This file writes GetMany, on the plain repository of every model: the
// rows of many IDs in the order asked. A database model reads them with
// one = ANY($1); a sharded model groups the IDs by shard and reads each
// shard's with one = ANY($1), the shards of one server as one pipelined
// batch, servers in parallel (runtime.Group.GetMany, which groups them).

// getManyQuery names the repository field of GetMany's statement.
const getManyQuery = "qGetMany"

func getManySQL(mi *modelInfo) string {
	m := mi.m
	return "SELECT " + strings.Join(columns(m.Fields), ", ") + " FROM " + runtime.SchemaToken + "." + ddl.QuoteIdent(m.Table) +
		" WHERE " + ddl.QuoteIdent(m.PK.Column) + " = ANY($1)"
}

// scanFound reads every row of rows into found, by ID.
func (e *emitter) scanFound(mi *modelInfo) []jen.Code {
	m := mi.m
	return []jen.Code{
		jen.For(jen.Id("rows").Dot("Next").Call()).Block(
			jen.Id("row").Op(":=").New(e.local(m.GoName)),
			jen.If(jen.Err().Op(":=").Add(scanRow(m, jen.Id("rows"), jen.Id("row"))), jen.Err().Op("!=").Nil()).
				Block(jen.Return(jen.Err())),
			jen.Id("found").Index(fieldOf("row", m.PK)).Op("=").Id("row"),
		),
		jen.Return(jen.Id("rows").Dot("Err").Call()),
	}
}

func (e *emitter) getMany(f *jen.File, v variant) {
	m := v.mi.m
	row := e.local(m.GoName)
	op := "get many " + v.mi.what
	found := func(b *jen.Group) {
		b.Id("found").Op(":=").Make(jen.Map(jen.Int64()).Op("*").Add(row), jen.Len(jen.Id("ids")))
	}
	keys := func(b *jen.Group) {
		b.Id("keys").Op(":=").Make(jen.Index().Int64(), jen.Len(jen.Id("ids")))
		b.For(jen.List(jen.Id("i"), jen.Id("id")).Op(":=").Range().Id("ids")).Block(jen.Id("keys").Index(jen.Id("i")).Op("=").Int64().Call(jen.Id("id")))
	}
	order := func(b *jen.Group) {
		b.Id("out").Op(":=").Make(jen.Index().Op("*").Add(row), jen.Len(jen.Id("ids")))
		b.For(jen.List(jen.Id("i"), jen.Id("id")).Op(":=").Range().Id("ids")).Block(
			jen.Id("out").Index(jen.Id("i")).Op("=").Id("found").Index(jen.Int64().Call(jen.Id("id"))),
		)
	}
	if !v.mi.sharded {
		text := fmt.Sprintf("GetMany returns the %s of each ID, in the order of ids, with nil where no\n"+
			"row has the ID, in one round trip (one = ANY($1)).", m.GoName)
		f.Add(doc(text)).Func().Params(jen.Id("r").Op("*").Id(m.RepoName())).Id("GetMany").Params(ctxParam(), jen.Id("ids").Index().Id(m.IDType())).
			Params(jen.Index().Op("*").Add(row), jen.Error()).BlockFunc(func(b *jen.Group) {
			keys(b)
			b.List(jen.Id("rows"), jen.Err()).Op(":=").Id("r").Dot("target").Dot("Query").Call(jen.Id("ctx"), v.query(getManyQuery), jen.Id("keys"))
			b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), errorf(op+": %w", jen.Err())))
			b.Defer().Id("rows").Dot("Close").Call()
			found(b)
			b.If(jen.Err().Op(":=").Func().Params().Error().Block(e.scanFound(v.mi)...).Call(), jen.Err().Op("!=").Nil()).
				Block(jen.Return(jen.Nil(), errorf(op+": %w", jen.Err())))
			order(b)
			b.Return(jen.Id("out"), jen.Nil())
		})
		return
	}
	text := fmt.Sprintf("GetMany returns the %s of each ID, in the order of ids, with nil where no\n"+
		"row has the ID. The IDs are grouped by the shard they carry and each\n"+
		"shard's are read with one = ANY($1); the shards of one server go as one\n"+
		"pipelined batch (one round trip per server), servers in parallel. When\n"+
		"an ID cannot belong to group %q (it names a shard beyond the group's\n"+
		"count) or a shard fails, the error is a *runtime.ManyError naming them,\n"+
		"and the rows of every other ID are still returned.", m.GoName, m.Group.Name)
	f.Add(doc(text)).Func().Params(jen.Id("r").Op("*").Id(m.RepoName())).Id("GetMany").Params(ctxParam(), jen.Id("ids").Index().Id(m.IDType())).
		Params(jen.Index().Op("*").Add(row), jen.Error()).BlockFunc(func(b *jen.Group) {
		keys(b)
		found(b)
		b.List(jen.Id("many"), jen.Err()).Op(":=").Add(v.group()).Dot("GetMany").Call(jen.Id("ctx"), v.query(getManyQuery), jen.Id("keys"),
			jen.Func().Params(jen.Id("rows").Qual(pgxPath, "Rows")).Error().Block(e.scanFound(v.mi)...))
		b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), errorf(op+": %w", jen.Err())))
		order(b)
		// A nil *ManyError must not become a non-nil error.
		b.If(jen.Id("many").Op("!=").Nil()).Block(jen.Return(jen.Id("out"), jen.Id("many")))
		b.Return(jen.Id("out"), jen.Nil())
	})
}
