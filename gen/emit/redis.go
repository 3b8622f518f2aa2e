package emit

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/shardgen/shardgen/gen/model"
)

// This file writes the Redis layer of a package (model.Package.RedisFileName),
// only when a model has a counter field or is cached: the one generated file
// that imports runtime/shardredis, so an application whose models use no
// Redis feature links no Redis client. Everything it does is runtime/shardredis's
// (Counters, Cache); the file binds it to the models' tables, keys and types.

const shardredisPath = model.ShardredisPath

func sr(name string) *jen.Statement { return jen.Qual(shardredisPath, name) }

// redisModels are the models with a Redis feature, in source order.
func (e *emitter) redisModels() []*model.Model {
	var out []*model.Model
	for _, m := range e.p.Models {
		if m.UsesRedis() {
			out = append(out, m)
		}
	}
	return out
}

// counterGroups are the groups with a counter field, in declaration order.
func (e *emitter) counterGroups() []*model.Group {
	var out []*model.Group
	seen := map[string]bool{}
	for _, g := range e.p.Groups {
		if g.HasCounters() && !seen[g.Name] {
			seen[g.Name] = true
			out = append(out, g)
		}
	}
	return out
}

func (e *emitter) redisFile() *jen.File {
	f := e.newFile()
	e.redisType(f)
	e.newRedisFunc(f)
	for _, m := range e.redisModels() {
		e.modelRedisType(f, e.models[m])
		if m.Cache != nil {
			e.cacheMethods(f, e.models[m])
			e.codecFuncs(f, e.models[m])
		}
		for _, c := range m.Counters() {
			e.counterMethods(f, e.models[m], c)
		}
	}
	return f
}

func (e *emitter) redisType(f *jen.File) {
	f.Add(doc(fmt.Sprintf("%s is the Redis side of DB (runtime/shardredis): the cached reads and\n"+
		"buffered counters of the models that use them, in the Redis servers of\n"+
		"their shard groups, each row's data on the server of its logical shard.\n"+
		"Build it with %s; it is safe for concurrent use.", model.RedisType, model.NewRedisFunc))).
		Type().Id(model.RedisType).StructFunc(func(g *jen.Group) {
		for _, m := range e.redisModels() {
			var what []string
			if m.Cache != nil {
				what = append(what, "cached reads")
			}
			if len(m.Counters()) > 0 {
				what = append(what, "counters")
			}
			g.Add(doc(fmt.Sprintf("%s has the %s of %s rows.", m.DBField(), strings.Join(what, " and "), m.GoName))).
				Id(m.DBField()).Op("*").Id(m.RedisName())
		}
		for _, grp := range e.counterGroups() {
			g.Add(doc(fmt.Sprintf("%s flushes the counters of group %q into its databases, one\n"+
				"UPDATE per row per flush, exactly once: call Flush on demand or Run on an\n"+
				"interval (in one process or several; concurrent flushers are safe).", grp.CountersField(), grp.Name))).
				Id(grp.CountersField()).Op("*").Add(sr("Counters"))
		}
	})
}

// counterTable is the shardredis.CounterTable literal of m's counters.
func counterTable(m *model.Model) jen.Code {
	var cols []jen.Code
	for _, c := range m.Counters() {
		cols = append(cols, jen.Lit(c.Column))
	}
	return sr("CounterTable").Values(jen.Dict{
		jen.Id("Table"):   jen.Lit(m.Table),
		jen.Id("Key"):     jen.Lit(m.PK.Column),
		jen.Id("KeyType"): sr("Int64Key"),
		jen.Id("Columns"): jen.Index().String().Values(cols...),
	})
}

func (e *emitter) newRedisFunc(f *jen.File) {
	text := fmt.Sprintf("%s binds the Redis features of db's models to rdb, which must have\n"+
		"been opened with Spec and have servers for every group they use. It\n"+
		"installs the invalidation of cached models on db's repositories, so\n"+
		"that every Update and Delete through db, in a transaction too (after its\n"+
		"commit), removes the row's cached copy; call it once per DB, before\n"+
		"serving.", model.NewRedisFunc)
	f.Add(doc(text)).Func().Id(model.NewRedisFunc).Params(jen.Id("db").Op("*").Id("DB"), jen.Id("rdb").Op("*").Add(sr("Redis"))).
		Params(jen.Op("*").Id(model.RedisType), jen.Error()).BlockFunc(func(b *jen.Group) {
		b.Id("out").Op(":=").Op("&").Id(model.RedisType).Values()
		b.Var().Err().Error()
		for _, g := range e.counterGroups() {
			var tables []jen.Code
			for _, m := range g.Models {
				if len(m.Counters()) > 0 {
					tables = append(tables, jen.Line().Add(counterTable(m)))
				}
			}
			args := append([]jen.Code{jen.Id("rdb"), jen.Id("db").Dot(g.FieldName())}, tables...)
			b.If(
				jen.List(jen.Id("out").Dot(g.CountersField()), jen.Err()).Op("=").Add(sr("NewCounters")).Call(args...),
				jen.Err().Op("!=").Nil(),
			).Block(jen.Return(jen.Nil(), errorf(e.p.Name+"."+model.NewRedisFunc+": %w", jen.Err())))
		}
		for _, m := range e.redisModels() {
			mi := e.models[m]
			d := jen.Dict{jen.Id("repo"): jen.Id("db").Dot(m.DBField())}
			if len(m.Counters()) > 0 {
				d[jen.Id("counters")] = jen.Id("out").Dot(m.Group.CountersField())
			}
			b.Id("out").Dot(m.DBField()).Op("=").Op("&").Id(m.RedisName()).Values(d)
			if m.Cache != nil {
				e.newCache(b, mi)
			}
		}
		b.Return(jen.Id("out"), jen.Nil())
	})
}

// newCache builds a cached model's shardredis.Cache in NewRedis and
// installs its invalidation on the repository.
func (e *emitter) newCache(b *jen.Group, mi *modelInfo) {
	m := mi.m
	row := jen.Op("*").Add(e.local(m.GoName))
	repo := jen.Id("db").Dot(m.DBField())
	ms := m.Cache.TTL.Milliseconds()
	load := jen.Func().Params(ctxParam(), jen.Id("keys").Index().Int64()).Params(jen.Map(jen.Int64()).Add(row), jen.Error()).Block(
		jen.Id("ids").Op(":=").Make(jen.Index().Id(m.IDType()), jen.Len(jen.Id("keys"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("k")).Op(":=").Range().Id("keys")).Block(jen.Id("ids").Index(jen.Id("i")).Op("=").Id(m.IDType()).Call(jen.Id("k"))),
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Add(repo).Dot("GetMany").Call(jen.Id("ctx"), jen.Id("ids")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Id("found").Op(":=").Make(jen.Map(jen.Int64()).Add(row), jen.Len(jen.Id("rows"))),
		jen.For(jen.List(jen.Id("_"), jen.Id("row")).Op(":=").Range().Id("rows")).Block(
			jen.If(jen.Id("row").Op("!=").Nil()).Block(jen.Id("found").Index(fieldOf("row", m.PK)).Op("=").Id("row")),
		),
		jen.Return(jen.Id("found"), jen.Nil()),
	)
	spec := sr("CacheSpec").Types(jen.Int64(), row).Values(jen.DictFunc(func(d jen.Dict) {
		d[jen.Id("Name")] = jen.Lit(m.Table)
		d[jen.Id("TTL")] = jen.Lit(int(ms)).Op("*").Qual("time", "Millisecond")
		d[jen.Id("ShardOf")] = jen.Id("db").Dot(m.Group.FieldName()).Dot("ShardOfID")
		d[jen.Id("Load")] = load
		d[jen.Id("Encode")] = jen.Id(m.EncodeFunc())
		d[jen.Id("Decode")] = jen.Id(m.DecodeFunc())
	}))
	cache := jen.Id("out").Dot(m.DBField()).Dot("cache")
	b.If(
		jen.List(cache, jen.Err()).Op("=").Add(sr("NewCache")).Call(jen.Id("rdb"), jen.Lit(m.Group.Name), spec),
		jen.Err().Op("!=").Nil(),
	).Block(jen.Return(jen.Nil(), errorf(e.p.Name+"."+model.NewRedisFunc+": %w", jen.Err())))
	b.Comment("Writes through the repository (and its transactions, after the")
	b.Comment("commit) invalidate; a failed invalidation is retried in the background.")
	b.Block(
		jen.Id("invalidate").Op(":=").Func().Params(ctxParam(), jen.Id("tx").Op("*").Add(rt("Tx")), jen.Id("id").Int64()).Block(
			jen.If(jen.Id("tx").Op("!=").Nil()).Block(
				jen.Add(cache).Dot("InvalidateAfter").Call(jen.Id("tx"), jen.Id("id")),
				jen.Return(),
			),
			jen.Id("_").Op("=").Add(cache).Dot("Invalidate").Call(jen.Id("ctx"), jen.Id("id")),
		),
		jen.Add(repo).Dot(model.OnWriteField).Dot("Store").Call(jen.Op("&").Id("invalidate")),
	)
}

func (e *emitter) modelRedisType(f *jen.File, mi *modelInfo) {
	m := mi.m
	var parts []string
	if m.Cache != nil {
		parts = append(parts, fmt.Sprintf("reads %s rows through the Redis cache of group %q (each row\n"+
			"cached for at most %s, invalidated after every committed Update and Delete\n"+
			"through DB.%s)", m.GoName, m.Group.Name, m.Cache.TTL, m.DBField()))
	}
	if cs := m.Counters(); len(cs) > 0 {
		var names []string
		for _, c := range cs {
			names = append(names, c.GoName)
		}
		what := "the counter field " + names[0]
		if len(names) > 1 {
			what = "the counter fields " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
		}
		parts = append(parts, fmt.Sprintf("buffers increments of %s in Redis until\n"+
			"%s.%s flushes them", what, model.RedisType, m.Group.CountersField()))
	}
	text := fmt.Sprintf("%s %s.", m.RedisName(), strings.Join(parts, ", and "))
	f.Add(doc(text)).Type().Id(m.RedisName()).StructFunc(func(g *jen.Group) {
		g.Id("repo").Op("*").Id(m.RepoName())
		if m.Cache != nil {
			g.Id("cache").Op("*").Add(sr("Cache")).Types(jen.Int64(), jen.Op("*").Add(e.local(m.GoName)))
		}
		if len(m.Counters()) > 0 {
			g.Id("counters").Op("*").Add(sr("Counters"))
		}
	})
}

func (e *emitter) cacheMethods(f *jen.File, mi *modelInfo) {
	m := mi.m
	row := jen.Op("*").Add(e.local(m.GoName))
	recv := jen.Id("r").Op("*").Id(m.RedisName())
	stale := ""
	if cs := m.Counters(); len(cs) > 0 {
		stale = fmt.Sprintf(" Counter fields hold the value stored when the row was cached; read\n"+
			"them with %s.%s.", m.RedisName(), cs[0].GoName)
	}
	f.Add(doc(fmt.Sprintf("Get returns the %s with the given ID: from Redis on a hit (one GET on the\n"+
		"server of the ID's shard), otherwise from the database, caching it. A\n"+
		"Redis server that is down makes it read the database. The error wraps\n"+
		"runtime.ErrNotFound when there is no such row.%s", m.GoName, stale))).
		Func().Params(recv).Id("Get").Params(ctxParam(), jen.Id("id").Id(m.IDType())).Params(row, jen.Error()).Block(
		jen.List(jen.Id("row"), jen.Err()).Op(":=").Id("r").Dot("cache").Dot("Get").Call(jen.Id("ctx"), jen.Int64().Call(jen.Id("id"))),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), errorf("get cached "+mi.what+" %d: %w", jen.Id("id"), jen.Err()))),
		jen.Return(jen.Id("row"), jen.Nil()),
	)
	f.Add(doc(fmt.Sprintf("GetMany returns the %s of each ID, in the order of ids, with nil where no\n"+
		"row has the ID: one MGET per Redis server (servers in parallel), then the\n"+
		"misses from the database with one %s.GetMany (one round trip per\n"+
		"database server), cached.%s", m.GoName, m.RepoName(), stale))).
		Func().Params(recv).Id("GetMany").Params(ctxParam(), jen.Id("ids").Index().Id(m.IDType())).Params(jen.Index().Add(row), jen.Error()).Block(
		jen.Id("keys").Op(":=").Make(jen.Index().Int64(), jen.Len(jen.Id("ids"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("id")).Op(":=").Range().Id("ids")).Block(jen.Id("keys").Index(jen.Id("i")).Op("=").Int64().Call(jen.Id("id"))),
		jen.List(jen.Id("found"), jen.Err()).Op(":=").Id("r").Dot("cache").Dot("GetMany").Call(jen.Id("ctx"), jen.Id("keys")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), errorf("get many cached "+mi.what+": %w", jen.Err()))),
		jen.Id("out").Op(":=").Make(jen.Index().Add(row), jen.Len(jen.Id("ids"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("k")).Op(":=").Range().Id("keys")).Block(jen.Id("out").Index(jen.Id("i")).Op("=").Id("found").Index(jen.Id("k"))),
		jen.Return(jen.Id("out"), jen.Nil()),
	)
	f.Add(doc(fmt.Sprintf("Invalidate removes the cached copies of the rows with these IDs. Writes\n"+
		"through DB.%s do it themselves; call it after changing rows with SQL of\n"+
		"your own (custom queries, raw pgx), once committed.", m.DBField()))).
		Func().Params(recv).Id("Invalidate").Params(ctxParam(), jen.Id("ids").Op("...").Id(m.IDType())).Error().Block(
		jen.Id("keys").Op(":=").Make(jen.Index().Int64(), jen.Len(jen.Id("ids"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("id")).Op(":=").Range().Id("ids")).Block(jen.Id("keys").Index(jen.Id("i")).Op("=").Int64().Call(jen.Id("id"))),
		jen.Return(jen.Id("r").Dot("cache").Dot("Invalidate").Call(jen.Id("ctx"), jen.Id("keys").Op("..."))),
	)
}

// codecFuncs declare how a cached row is stored: a JSON array of its
// columns in order, so that the struct's own json tags (a field hidden
// from an API with json:"-") cannot drop a column from the cached copy.
func (e *emitter) codecFuncs(f *jen.File, mi *modelInfo) {
	m := mi.m
	row := jen.Op("*").Add(e.local(m.GoName))
	var vals, dests []jen.Code
	for _, fl := range m.Fields {
		vals = append(vals, fieldOf("row", fl))
		dests = append(dests, jen.Op("&").Add(fieldOf("row", fl)))
	}
	n := len(m.Fields)
	f.Add(doc(fmt.Sprintf("%s renders a %s for the cache: a JSON array of its columns in order.", m.EncodeFunc(), m.GoName))).
		Func().Id(m.EncodeFunc()).Params(jen.Id("row").Add(row)).Params(jen.Index().Byte(), jen.Error()).Block(
		jen.Return(jen.Qual("encoding/json", "Marshal").Call(jen.Index().Any().Values(vals...))),
	)
	f.Add(doc(fmt.Sprintf("%s reads what %s wrote. A value of another version of the model\n"+
		"(another number of columns) is an error, which the cache treats as a miss.", m.DecodeFunc(), m.EncodeFunc()))).
		Func().Id(m.DecodeFunc()).Params(jen.Id("b").Index().Byte()).Params(row, jen.Error()).Block(
		jen.Var().Id("cols").Index().Qual("encoding/json", "RawMessage"),
		jen.If(jen.Err().Op(":=").Qual("encoding/json", "Unmarshal").Call(jen.Id("b"), jen.Op("&").Id("cols")), jen.Err().Op("!=").Nil()).
			Block(jen.Return(jen.Nil(), jen.Err())),
		jen.If(jen.Len(jen.Id("cols")).Op("!=").Lit(n)).
			Block(jen.Return(jen.Nil(), errorf("cached "+mi.what+": %d columns, want "+fmt.Sprint(n), jen.Len(jen.Id("cols"))))),
		jen.Id("row").Op(":=").New(e.local(m.GoName)),
		jen.For(jen.List(jen.Id("i"), jen.Id("dest")).Op(":=").Range().Index().Any().Values(dests...)).Block(
			jen.If(jen.Err().Op(":=").Qual("encoding/json", "Unmarshal").Call(jen.Id("cols").Index(jen.Id("i")), jen.Id("dest")), jen.Err().Op("!=").Nil()).
				Block(jen.Return(jen.Nil(), jen.Err())),
		),
		jen.Return(jen.Id("row"), jen.Nil()),
	)
}

func (e *emitter) counterMethods(f *jen.File, mi *modelInfo, c *model.Field) {
	m := mi.m
	recv := jen.Id("r").Op("*").Id(m.RedisName())
	what := mi.what + "." + c.GoName
	shard := func(op string, ret ...jen.Code) []jen.Code {
		return []jen.Code{
			jen.List(jen.Id("shard"), jen.Err()).Op(":=").Id("r").Dot("repo").Dot("group").Dot("ShardOfID").Call(jen.Int64().Call(jen.Id("id"))),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(append(ret, errorf(op+" "+what+" of %d: %w", jen.Id("id"), jen.Err()))...)),
		}
	}
	args := []jen.Code{jen.Id("ctx"), jen.Id("shard"), jen.Lit(m.Table), jen.Lit(c.Column), jen.Int64().Call(jen.Id("id"))}
	f.Add(doc(fmt.Sprintf("%s adds delta to the %s of the %s with the given ID: one HINCRBY on\n"+
		"the Redis server of the ID's shard. The column changes when %s.%s\n"+
		"next flushes, once per row whatever the number of increments; read the\n"+
		"current value with %s. An error (wrapping shardredis.ErrUnavailable)\n"+
		"means the increment may or may not have been recorded.", model.AddFunc(c), c.GoName, m.GoName, model.RedisType, m.Group.CountersField(), c.GoName))).
		Func().Params(recv).Id(model.AddFunc(c)).Params(ctxParam(), jen.Id("id").Id(m.IDType()), jen.Id("delta").Int64()).Error().BlockFunc(func(b *jen.Group) {
		for _, s := range shard("add to") {
			b.Add(s)
		}
		b.Return(jen.Id("r").Dot("counters").Dot("Add").Call(append(args, jen.Id("delta"))...))
	})
	f.Add(doc(fmt.Sprintf("%s returns the %s of the %s with the given ID: the stored column plus\n"+
		"every increment still pending in Redis, each counted once. The error\n"+
		"wraps runtime.ErrNotFound when there is no such row.", c.GoName, c.GoName, m.GoName))).
		Func().Params(recv).Id(c.GoName).Params(ctxParam(), jen.Id("id").Id(m.IDType())).Params(jen.Int64(), jen.Error()).BlockFunc(func(b *jen.Group) {
		for _, s := range shard("read", jen.Lit(0)) {
			b.Add(s)
		}
		b.Return(jen.Id("r").Dot("counters").Dot("Get").Call(args...))
	})
}
