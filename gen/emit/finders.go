package emit

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
)

// This file writes the finders (model.Model.Finders: GetBy<Field> for a
// unique field, ListBy<Field> for an index field) and CountByKey of a
// sharded model, one body for both repository variants (see emitter.op). On a sharded model each runs
// on the one shard of the key it is given and also matches on the shard key,
// so it never returns a row of another key that shares the shard.

// finderQuery names the repository field holding a finder's statement.
func finderQuery(fd model.Finder) string { return "q" + fd.Name }

// countByKeyQuery names the repository field of CountByKey's statement.
const countByKeyQuery = "qCountByKey"

// finderQueries are the statements of mi's finders and CountByKey, as
// field name and SQL in a fixed order, for the repository struct and New.
func finderQueries(mi *modelInfo) (names, sqls []string) {
	m := mi.m
	table := runtime.SchemaToken + "." + ddl.QuoteIdent(m.Table)
	id := ddl.QuoteIdent(m.PK.Column)
	sel := "SELECT " + strings.Join(columns(m.Fields), ", ") + " FROM " + table
	for _, fd := range m.Finders() {
		if fd.Global {
			continue // the lookup, then Get (lookups.go)
		}
		// $1 is the shard key on a sharded model, then the value.
		var conds []string
		if mi.sharded {
			conds = append(conds, ddl.QuoteIdent(m.ShardKey.Column)+" = $1")
		}
		conds = append(conds, ddl.QuoteIdent(fd.Field.Column)+" = $"+fmt.Sprint(len(conds)+1))
		sql := sel + " WHERE " + strings.Join(conds, " AND ")
		if !fd.Unique {
			// The keyset paging of List (see buildQueries).
			n := len(conds)
			sql += fmt.Sprintf(" AND %s < $%d ORDER BY %s DESC LIMIT $%d", id, n+1, id, n+2)
		}
		names = append(names, finderQuery(fd))
		sqls = append(sqls, sql)
	}
	names = append(names, getManyQuery) // many.go
	sqls = append(sqls, getManySQL(mi))
	if m.HasCountByKey() {
		names = append(names, countByKeyQuery)
		sqls = append(sqls, "SELECT count(*) FROM "+table+" WHERE "+ddl.QuoteIdent(m.ShardKey.Column)+" = $1")
	}
	return names, sqls
}

// finderType is the Go type a finder takes its value as: the field's type
// without its pointer, so that a finder never looks for NULL (which equals
// nothing).
func (e *emitter) finderType(t *model.Type) *jen.Statement {
	var base *jen.Statement
	if t.Ident.ImportPath == "" {
		base = jen.Id(t.Ident.Name)
	} else {
		base = jen.Qual(t.Ident.ImportPath, t.Ident.Name)
	}
	if t.Slice {
		return jen.Index().Add(base)
	}
	return base
}

// finderArg is the bind argument of a finder's value v (see fieldArg).
func finderArg(t *model.Type, v jen.Code) jen.Code {
	if t.Kind == model.UUID && t.Ident.ImportPath != pgtypePath {
		return jen.Qual(pgtypePath, "UUID").Values(jen.Dict{
			jen.Id("Bytes"): jen.Index(jen.Lit(16)).Byte().Call(v),
			jen.Id("Valid"): jen.True(),
		})
	}
	return v
}

// finderParam names a finder's value parameter after its field, avoiding
// the other names the method uses.
func (e *emitter) finderParam(f *model.Field) string {
	name := e.argName(f.GoName)
	switch name {
	case "key", "page", "r", "id":
		return name + "Arg"
	}
	return name
}

// finders writes the finders and CountByKey of v's model.
func (e *emitter) finders(f *jen.File, v variant) {
	for _, fd := range v.mi.m.Finders() {
		if fd.Global {
			e.getByGlobal(f, v, fd) // lookups.go
		} else if fd.Unique {
			e.getBy(f, v, fd)
		} else {
			e.listByIndex(f, v, fd)
		}
	}
	e.countByKey(f, v)
}

// finderParams are a finder's leading parameters and bind arguments: the
// shard key on a sharded model, then the value.
func (e *emitter) finderParams(v variant, fd model.Finder) (params []param, args []jen.Code, val string) {
	val = e.finderParam(fd.Field)
	if v.mi.sharded {
		params = append(params, param{"key", jen.Id(v.mi.m.Group.KeyType())})
		args = append(args, keyArg(v.mi.m.Group, jen.Id("key")))
	}
	params = append(params, param{val, e.finderType(fd.Field.Type)})
	args = append(args, finderArg(fd.Field.Type, jen.Id(val)))
	return params, args, val
}

// routeKey declares shard from key (on a sharded model) and on (see
// variant.bind), refusing in a transaction a key of another shard; verb
// starts the error ("get", "list", "count").
func (v variant) routeKey(b *jen.Group, verb string, ret ...jen.Code) {
	if v.mi.sharded {
		b.Id("shard").Op(":=").Add(shardOfKey(v.group(), v.mi.m.Group, jen.Id("key")))
	}
	v.bind(b, verb, "key %v", []jen.Code{jen.Id("key")}, ret...)
}

func (e *emitter) getBy(f *jen.File, v variant, fd model.Finder) {
	m := v.mi.m
	text := fmt.Sprintf("%s returns the %s whose %s is %s, in one round trip. The error\n"+
		"wraps runtime.ErrNotFound when there is none.", fd.Name, m.GoName, fd.Field.GoName, e.finderParam(fd.Field))
	if v.mi.sharded {
		text = fmt.Sprintf("%s returns the %s of key whose %s is %s, in one round trip\n"+
			"on the shard of key. %s is unique within a logical shard, not across\n"+
			"the group, so the key is part of the lookup. The error wraps\n"+
			"runtime.ErrNotFound when there is none.", fd.Name, m.GoName, fd.Field.GoName, e.finderParam(fd.Field), fd.Field.GoName)
	}
	params, args, val := e.finderParams(v, fd)
	op := "get " + v.mi.what + " by " + fd.Field.GoName
	e.op(f, v, text, fd.Name, params, []jen.Code{jen.Op("*").Add(e.local(m.GoName)), jen.Error()}, func(b *jen.Group) {
		v.routeKey(b, "get", jen.Nil())
		b.Id("row").Op(":=").New(e.local(m.GoName))
		b.If(
			jen.Err().Op(":=").Add(scanRow(m, jen.Add(v.exec()).Dot("QueryRow").Call(append([]jen.Code{jen.Id("ctx"), v.query(finderQuery(fd))}, args...)...), jen.Id("row"))),
			jen.Err().Op("!=").Nil(),
		).Block(jen.Return(jen.Nil(), errorf(op+" %v: %w", jen.Id(val), jen.Err())))
		b.Return(jen.Id("row"), jen.Nil())
	})
}

func (e *emitter) listByIndex(f *jen.File, v variant, fd model.Finder) {
	m := v.mi.m
	val := e.finderParam(fd.Field)
	text := fmt.Sprintf("%s returns up to page.Size() %s rows whose %s is %s, newest\nfirst (by ID), in one round trip", fd.Name, m.GoName, fd.Field.GoName, val)
	if v.mi.sharded {
		text = fmt.Sprintf("%s returns up to page.Size() %s rows of key whose %s is %s,\nnewest first (by ID), in one round trip on the shard of key", fd.Name, m.GoName, fd.Field.GoName, val)
	}
	text += ". To get the next page, set page.After to the ID of the last row\nreturned (page.Next)."
	params, args, _ := e.finderParams(v, fd)
	params = append(params, param{"page", rt("Page")})
	op := "list " + v.mi.what + " by " + fd.Field.GoName
	e.op(f, v, text, fd.Name, params, []jen.Code{jen.Index().Op("*").Add(e.local(m.GoName)), jen.Error()}, func(b *jen.Group) {
		v.routeKey(b, "list", jen.Nil())
		all := append([]jen.Code{jen.Id("ctx"), v.query(finderQuery(fd))}, args...)
		all = append(all, pageArgs()...)
		b.List(jen.Id("rows"), jen.Err()).Op(":=").Add(v.exec()).Dot("Query").Call(all...)
		b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), errorf(op+" %v: %w", jen.Id(val), jen.Err())))
		b.Return(v.collectPage())
	})
}

func (e *emitter) countByKey(f *jen.File, v variant) {
	m := v.mi.m
	if !m.HasCountByKey() {
		return
	}
	text := fmt.Sprintf("CountByKey returns the number of %s rows whose %s is key, in one\nround trip on the shard of key.", m.GoName, m.ShardKey.GoName)
	op := "count " + v.mi.what + " by key"
	e.op(f, v, text, "CountByKey", []param{{"key", jen.Id(m.Group.KeyType())}}, []jen.Code{jen.Int64(), jen.Error()}, func(b *jen.Group) {
		v.routeKey(b, "count", jen.Lit(0))
		b.Var().Id("n").Int64()
		b.If(
			jen.Err().Op(":=").Add(v.exec()).Dot("QueryRow").Call(jen.Id("ctx"), v.query(countByKeyQuery), keyArg(m.Group, jen.Id("key"))).
				Dot("Scan").Call(jen.Op("&").Id("n")),
			jen.Err().Op("!=").Nil(),
		).Block(jen.Return(jen.Lit(0), errorf(op+" %v: %w", jen.Id("key"), jen.Err())))
		b.Return(jen.Id("n"), jen.Nil())
	})
}
