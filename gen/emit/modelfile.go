package emit

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
)

// variant is the shared body of an operation of a model's repository. The
// plain repository (which routes every call itself) and the
// transaction-bound one (which runs on the transaction's shard or database
// and refuses keys and IDs of other shards) both call it: the plain one
// with a nil *runtime.Tx.
type variant struct {
	mi *modelInfo
}

func (v variant) query(name string) *jen.Statement { return jen.Id("r").Dot(name) }

func (v variant) group() *jen.Statement { return jen.Id("r").Dot("group") }

// exec is the runtime.On the statement runs on (see bind).
func (v variant) exec() *jen.Statement { return jen.Id("on") }

// bind declares on: the transaction when there is one, else the routed
// target (a runtime.On value, never boxed in the runtime.Executor
// interface, which would allocate on every call). For a sharded model it
// first refuses, inside a transaction, a shard other than the
// transaction's: desc (a format) and descArgs say what was on the wrong
// shard; ret are the zero results before the error.
func (v variant) bind(b *jen.Group, op, desc string, descArgs []jen.Code, ret ...jen.Code) {
	if !v.mi.sharded {
		b.Id("on").Op(":=").Add(rt("Bind")).Call(jen.Id("r").Dot("target"), jen.Id("tx"))
		return
	}
	v.refuseOtherShard(b, op, desc, descArgs, ret...)
	b.Id("on").Op(":=").Add(rt("Bind")).Call(v.group().Dot("At").Call(jen.Id("shard")), jen.Id("tx"))
}

// refuseOtherShard refuses, inside a transaction, a shard other than the
// transaction's (see bind).
func (v variant) refuseOtherShard(b *jen.Group, op, desc string, descArgs []jen.Code, ret ...jen.Code) {
	args := append(descArgs, jen.Id("shard"), jen.Id("tx").Dot("Shard").Call(), rt("ErrWrongShard"))
	b.If(jen.Id("tx").Op("!=").Nil().Op("&&").Id("shard").Op("!=").Id("tx").Dot("Shard").Call()).Block(
		jen.Return(append(ret, errorf(op+" "+v.mi.what+": "+desc+" is on shard %d, the transaction on shard %d: %w", args...))...),
	)
}

// shardOfID declares shard from an ID of the model's group.
func (v variant) shardOfID(b *jen.Group, id jen.Code, errPrefix string, errArgs []jen.Code, ret ...jen.Code) {
	b.List(jen.Id("shard"), jen.Err()).Op(":=").Add(v.group()).Dot("ShardOfID").Call(jen.Int64().Call(id))
	b.If(jen.Err().Op("!=").Nil()).Block(
		jen.Return(append(ret, errorf(errPrefix+": %w", append(errArgs, jen.Err())...))...),
	)
}

// afterWrite calls a cached model's invalidation hook (model.OnWriteField)
// after a write of the row with ID id succeeded; nothing for other models.
func (v variant) afterWrite(b *jen.Group, id jen.Code) {
	if v.mi.m.Cache == nil {
		return
	}
	b.If(jen.Id("fn").Op(":=").Id("r").Dot(model.OnWriteField).Dot("Load").Call(), jen.Id("fn").Op("!=").Nil()).Block(
		jen.Parens(jen.Op("*").Id("fn")).Call(jen.Id("ctx"), jen.Id("tx"), id),
	)
}

// param is a parameter of an operation after ctx.
type param struct {
	name string
	typ  jen.Code
}

// op declares operation name of the variant's model: the method of the
// repository, the method of the transaction-bound repository (both
// documented by text), and the one body they call, an unexported method of
// the repository that takes the transaction (nil outside one).
func (e *emitter) op(f *jen.File, v variant, text, name string, params []param, results []jen.Code, body func(b *jen.Group)) {
	m := v.mi.m
	decls := []jen.Code{ctxParam()}
	call := []jen.Code{jen.Id("ctx")}
	for _, p := range params {
		decls = append(decls, jen.Id(p.name).Add(p.typ))
		call = append(call, jen.Id(p.name))
	}
	inner := model.OpBody(name)
	f.Add(doc(text)).Func().Params(jen.Id("r").Op("*").Id(m.RepoName())).Id(name).Params(decls...).Params(results...).
		Block(jen.Return(jen.Id("r").Dot(inner).Call(append([]jen.Code{jen.Id("ctx"), jen.Nil()}, call[1:]...)...)))
	txText := fmt.Sprintf("%s is %s.%s in the transaction.", name, m.RepoName(), name)
	if v.mi.sharded {
		txText += " The error wraps runtime.ErrWrongShard for a key or ID of another shard than the transaction's."
	}
	f.Add(doc(txText)).Func().Params(jen.Id("r").Op("*").Id(m.TxRepoName())).Id(name).Params(decls...).Params(results...).
		Block(jen.Return(jen.Id("r").Dot("repo").Dot(inner).Call(append([]jen.Code{jen.Id("ctx"), jen.Id("r").Dot("tx")}, call[1:]...)...)))
	inDecls := append([]jen.Code{ctxParam(), jen.Id("tx").Op("*").Add(rt("Tx"))}, decls[1:]...)
	f.Add(doc(fmt.Sprintf("%s is the body of %s.%s and %s.%s: tx is nil outside a transaction.", inner, m.RepoName(), name, m.TxRepoName(), name))).
		Func().Params(jen.Id("r").Op("*").Id(m.RepoName())).Id(inner).Params(inDecls...).Params(results...).BlockFunc(body)
}

func fieldOf(row string, f *model.Field) *jen.Statement { return jen.Id(row).Dot(f.GoName) }

// fieldArgs are the bind arguments of fields. The runtime sends statements
// unprepared (pgx's QueryExecModeExec), so pgx encodes each argument from
// its Go type alone; the types it cannot encode that way are wrapped.
func fieldArgs(row string, fs []*model.Field) []jen.Code {
	out := make([]jen.Code, len(fs))
	for i, f := range fs {
		out[i] = fieldArg(row, f)
	}
	return out
}

func fieldArg(row string, f *model.Field) jen.Code {
	v := fieldOf(row, f)
	switch f.Type.Kind {
	case model.JSON:
		// Structs, maps and slices as JSON text; see shardgenJSON.
		return jen.Id(jsonHelper).Values(v)
	case model.UUID:
		switch {
		case f.Type.Ident.ImportPath == pgtypePath:
			return v // pgtype.UUID encodes itself
		case f.Type.Pointer:
			return jen.Id(uuidHelper).Call(jen.Parens(jen.Op("*").Index(jen.Lit(16)).Byte()).Call(v))
		default:
			return jen.Qual(pgtypePath, "UUID").Values(jen.Dict{
				jen.Id("Bytes"): jen.Index(jen.Lit(16)).Byte().Call(v),
				jen.Id("Valid"): jen.True(),
			})
		}
	}
	return v
}

// scanRow reads one row into the model struct at dest with the model's
// scan function.
func scanRow(m *model.Model, row, dest jen.Code) *jen.Statement {
	return jen.Id(m.ScanFunc()).Call(row, dest)
}

// scanFunc declares the function that reads one row of the model's table
// (every column, in order), which Get, the lists and custom queries
// returning the model's rows share.
func (e *emitter) scanFunc(f *jen.File, mi *modelInfo) {
	m := mi.m
	dests := make([]jen.Code, len(m.Fields))
	for i, fl := range m.Fields {
		dests[i] = jen.Op("&").Add(fieldOf("dest", fl))
	}
	f.Add(doc(fmt.Sprintf("%s reads one row of table %q into dest, every column in order.", m.ScanFunc(), m.Table))).
		Func().Id(m.ScanFunc()).Params(jen.Id("row").Qual(pgxPath, "Row"), jen.Id("dest").Op("*").Add(e.local(m.GoName))).Error().
		Block(jen.Return(jen.Id("row").Dot("Scan").Call(dests...)))
}

func (e *emitter) modelFile(mi *modelInfo) *jen.File {
	f := e.newFile()
	e.idType(f, mi)
	e.sqlConsts(f, mi)
	e.repoType(f, mi)
	e.txRepoType(f, mi)
	v := variant{mi: mi}
	e.insert(f, v)
	e.insertMany(f, v) // batch.go
	e.get(f, v)
	e.update(f, v)
	e.delete(f, v)
	e.list(f, v)
	for _, r := range mi.m.Relations {
		e.listBy(f, v, r)
	}
	e.count(f, v)
	e.upserts(f, v) // upsert.go
	e.finders(f, v) // finders.go
	e.getMany(f, v) // many.go
	e.stream(f, v)  // stream.go
	if mi.m.HasLookups() {
		e.lookupMethods(f, mi) // lookups.go
	}
	e.scanFunc(f, mi)
	return f
}

// sqlConsts declares the statements of the model's repository as raw
// strings, which New prepares.
func (e *emitter) sqlConsts(f *jen.File, mi *modelInfo) {
	m := mi.m
	f.Add(doc(fmt.Sprintf("The statements of %s; %s stands for the shard's schema (\"public\" on a database), which the runtime fills in.", m.RepoName(), runtime.SchemaToken))).
		Const().DefsFunc(func(g *jen.Group) {
		for _, st := range mi.stmts {
			g.Id(m.SQLConst(st.op)).Op("=").Add(sqlLit(st.sql))
		}
	})
}

func (e *emitter) idType(f *jen.File, mi *modelInfo) {
	m := mi.m
	text := fmt.Sprintf("%s is the primary key of %s (column %q of table %q).", m.IDType(), model.A(m.GoName), m.PK.Column, m.Table)
	if mi.sharded {
		text += fmt.Sprintf("\nIt is minted in the row's logical shard of group %q and carries it, so\na row is found by its ID alone.", m.Group.Name)
	}
	f.Add(doc(text)).Type().Id(m.IDType()).Int64()
	f.Add(doc("String formats the ID in decimal.")).Func().Params(jen.Id("id").Id(m.IDType())).Id("String").Params().String().
		Block(jen.Return(jen.Qual("strconv", "FormatInt").Call(jen.Int64().Call(jen.Id("id")), jen.Lit(10))))
	if mi.sharded {
		f.Add(doc(fmt.Sprintf("Shard returns the logical shard of group %q encoded in the ID, decoded with\nthe ID layout of Spec (runtime.Spec.IDLayout).", m.Group.Name))).Func().Params(jen.Id("id").Id(m.IDType())).Id("Shard").Params().Add(rt("Shard")).
			Block(jen.Return(jen.Id("Spec").Dot("IDLayout").Call().Dot("Shard").Call(jen.Int64().Call(jen.Id("id")))))
	}
}

func (e *emitter) repoType(f *jen.File, mi *modelInfo) {
	m := mi.m
	text := fmt.Sprintf("%s stores %s rows in table %q, %s.", m.RepoName(), m.GoName, m.Table, where(m))
	if mi.sharded {
		text += fmt.Sprintf("\nEvery method runs on one logical shard, found from the shard key or\n"+
			"from an ID, in one round trip; only CountAllShards visits every shard.\n"+
			"Use DB.%s for a transaction on one shard.", m.Group.InShardFunc())
	} else {
		text += fmt.Sprintf("\nUse DB.%s for a transaction.", m.Database.InTxFunc())
	}
	f.Add(doc(text)).Type().Id(m.RepoName()).StructFunc(func(g *jen.Group) {
		if mi.sharded {
			g.Id("group").Op("*").Add(rt("Group"))
		} else {
			g.Id("target").Add(rt("Target"))
		}
		for _, st := range mi.stmts {
			g.Id("q" + st.op).Op("*").Add(rt("Query"))
		}
		lookupFields(g, m) // lookups.go
		if m.Cache != nil {
			g.Line()
			g.Comment(model.OnWriteField + ", installed by " + model.NewRedisFunc + ", invalidates the cached copy of a")
			g.Comment("row after its Update or Delete committed (or, in a transaction,")
			g.Comment("registers that for after the commit).")
			g.Id(model.OnWriteField).Qual("sync/atomic", "Pointer").Types(jen.Func().Params(jen.Qual("context", "Context"), jen.Op("*").Add(rt("Tx")), jen.Int64()))
		}
	})
}

func (e *emitter) txRepoType(f *jen.File, mi *modelInfo) {
	m := mi.m
	var text string
	if mi.sharded {
		text = fmt.Sprintf("%s is the %s repository bound to a transaction on one logical\n"+
			"shard (%s.%s). Its methods return an error wrapping\n"+
			"runtime.ErrWrongShard for a key or ID of another shard.", m.TxRepoName(), m.GoName, m.Group.TxType(), m.DBField())
	} else {
		text = fmt.Sprintf("%s is the %s repository bound to a transaction on database %q\n(%s.%s).",
			m.TxRepoName(), m.GoName, m.Database.Name, m.Database.TxType(), m.DBField())
	}
	f.Add(doc(text)).Type().Id(m.TxRepoName()).Struct(
		jen.Id("repo").Op("*").Id(m.RepoName()),
		jen.Id("tx").Op("*").Add(rt("Tx")),
	)
}

func (e *emitter) insert(f *jen.File, v variant) {
	m := v.mi.m
	text := fmt.Sprintf("Insert stores row in one round trip and sets row.%s to the ID the database\nminted, which it returns.", m.PK.GoName)
	if v.mi.sharded {
		text = fmt.Sprintf("Insert stores row on the logical shard of row.%s in one round trip. The\n"+
			"database mints the ID inside that shard; Insert sets row.%s to it and\nreturns it.", m.ShardKey.GoName, m.PK.GoName)
	}
	text += fmt.Sprintf(" Any %s already in row is ignored.", m.PK.GoName)
	if m.HasLookups() {
		text = fmt.Sprintf("Insert stores row on the logical shard of row.%s, sets row.%s to the ID\n"+
			"minted there and returns it. Any %s already in row is ignored. The error\n"+
			"matches lookup.ErrDuplicate (a *lookup.DuplicateError naming the field)\n"+
			"when another row of the group holds one of its global values.", m.ShardKey.GoName, m.PK.GoName, m.PK.GoName) + globalNote(m)
	}
	e.op(f, v, text, "Insert", []param{{"row", jen.Op("*").Add(e.local(m.GoName))}},
		[]jen.Code{jen.Id(m.IDType()), jen.Error()}, func(b *jen.Group) {
			if m.HasLookups() {
				e.insertLookups(b, v) // lookups.go
				return
			}
			if v.mi.sharded {
				b.Id("shard").Op(":=").Add(shardOfKey(v.group(), m.Group, fieldOf("row", m.ShardKey)))
			}
			if v.mi.sharded {
				v.bind(b, "insert", m.ShardKey.GoName+" %v", []jen.Code{fieldOf("row", m.ShardKey)}, jen.Lit(0))
			} else {
				v.bind(b, "insert", "", nil, jen.Lit(0))
			}
			args := append([]jen.Code{jen.Id("ctx"), v.query("qInsert")}, fieldArgs("row", v.mi.insertCols)...)
			b.If(
				jen.Err().Op(":=").Add(v.exec()).Dot("QueryRow").Call(args...).Dot("Scan").Call(jen.Op("&").Add(fieldOf("row", m.PK))),
				jen.Err().Op("!=").Nil(),
			).Block(jen.Return(jen.Lit(0), errorf("insert "+v.mi.what+": %w", jen.Err())))
			b.Return(jen.Id(m.IDType()).Call(fieldOf("row", m.PK)), jen.Nil())
		})
}

func (e *emitter) get(f *jen.File, v variant) {
	m := v.mi.m
	text := fmt.Sprintf("Get returns the %s with the given ID. The error wraps runtime.ErrNotFound\nwhen there is none.", m.GoName)
	if v.mi.sharded {
		text = fmt.Sprintf("Get returns the %s with the given ID from the shard the ID carries, in\n"+
			"one round trip. The error wraps runtime.ErrNotFound when there is none.", m.GoName)
	}
	e.op(f, v, text, "Get", []param{{"id", jen.Id(m.IDType())}},
		[]jen.Code{jen.Op("*").Add(e.local(m.GoName)), jen.Error()}, func(b *jen.Group) {
			if v.mi.sharded {
				v.shardOfID(b, jen.Id("id"), "get "+v.mi.what+" %d", []jen.Code{jen.Id("id")}, jen.Nil())
			}
			v.bind(b, "get", "ID %d", []jen.Code{jen.Id("id")}, jen.Nil())
			b.Id("row").Op(":=").New(e.local(m.GoName))
			b.If(
				jen.Err().Op(":=").Add(scanRow(m, jen.Add(v.exec()).Dot("QueryRow").Call(jen.Id("ctx"), v.query("qGet"), jen.Int64().Call(jen.Id("id"))), jen.Id("row"))),
				jen.Err().Op("!=").Nil(),
			).Block(jen.Return(jen.Nil(), errorf("get "+v.mi.what+" %d: %w", jen.Id("id"), jen.Err())))
			b.Return(jen.Id("row"), jen.Nil())
		})
}

func (e *emitter) update(f *jen.File, v variant) {
	m := v.mi.m
	if v.mi.q.Update == "" {
		return
	}
	text := fmt.Sprintf("Update writes every column of row except the ID to the row with ID\nrow.%s, in one round trip.", m.PK.GoName)
	if v.mi.sharded {
		text = fmt.Sprintf("Update writes every column of row except the ID and the shard key to the\n"+
			"row with ID row.%[1]s, in one round trip on the shard the ID carries. The\n"+
			"error wraps runtime.ErrWrongShard when row.%[2]s belongs to another shard than\n"+
			"the ID; the statement also matches on %[2]s, so a row is never moved or\n"+
			"changed under another key.", m.PK.GoName, m.ShardKey.GoName)
	}
	text += " The error wraps runtime.ErrNotFound when no row matches."
	if m.HasLookups() {
		text += " It matches lookup.ErrDuplicate when another row of the group holds a new global value." + globalNote(m)
	}
	if cs := m.Counters(); len(cs) > 0 {
		var names []string
		for _, c := range cs {
			names = append(names, c.GoName)
		}
		text += fmt.Sprintf(" The counter fields (%s) are not written: they change only by %s.%s and its flush.",
			strings.Join(names, ", "), m.RedisName(), model.AddFunc(cs[0]))
	}
	if m.Cache != nil {
		text += " Once committed, the row's cached copy is invalidated."
	}
	if ver := v.mi.version; ver != nil {
		text += fmt.Sprintf("\n\nrow.%[1]s is the row version (optimistic concurrency): the row is\n"+
			"written only while its %[1]s is still row.%[1]s, and %[1]s is bumped by one,\n"+
			"in the database and in row. When someone else changed the row since it\n"+
			"was read, nothing is written and the error wraps runtime.ErrConflict:\n"+
			"read the row again and retry.", ver.GoName)
	}
	id := fieldOf("row", m.PK)
	e.op(f, v, text, "Update", []param{{"row", jen.Op("*").Add(e.local(m.GoName))}}, []jen.Code{jen.Error()}, func(b *jen.Group) {
		args := []jen.Code{jen.Id("ctx"), v.query("qUpdate"), id}
		if v.mi.sharded {
			key := fieldOf("row", m.ShardKey)
			v.shardOfID(b, id, "update "+v.mi.what+" %d", []jen.Code{id})
			b.If(
				jen.Id("keyShard").Op(":=").Add(shardOfKey(v.group(), m.Group, key)),
				jen.Id("keyShard").Op("!=").Id("shard"),
			).Block(jen.Return(errorf("update "+v.mi.what+" %d: "+m.ShardKey.GoName+" %v is on shard %d, the ID on shard %d: %w",
				id, key, jen.Id("keyShard"), jen.Id("shard"), rt("ErrWrongShard"))))
			args = append(args, key)
		}
		if m.HasLookups() {
			args = append(args, fieldArgs("row", v.mi.updateCols)...)
			e.updateLookups(b, v, append([]jen.Code{jen.Id("ctx"), v.query("qUpdate")}, args[2:]...)) // lookups.go
			return
		}
		v.bind(b, "update", "ID %d", []jen.Code{id})
		if ver := v.mi.version; ver != nil {
			args = append(args, fieldOf("row", ver))
			args = append(args, fieldArgs("row", v.mi.updateCols)...)
			b.Var().Id("updated").Op(",").Id("found").Bool()
			b.If(
				jen.Err().Op(":=").Add(v.exec()).Dot("QueryRow").Call(args...).Dot("Scan").Call(jen.Op("&").Id("updated"), jen.Op("&").Id("found")),
				jen.Err().Op("!=").Nil(),
			).Block(jen.Return(errorf("update "+v.mi.what+" %d: %w", id, jen.Err())))
			b.If(jen.Op("!").Id("found")).Block(jen.Return(errorf("update "+v.mi.what+" %d: %w", id, rt("ErrNotFound"))))
			b.If(jen.Op("!").Id("updated")).Block(jen.Return(errorf("update "+v.mi.what+" %d: "+ver.GoName+" %d is not the row's any more: %w", id, fieldOf("row", ver), rt("ErrConflict"))))
			b.Add(fieldOf("row", ver)).Op("++")
			v.afterWrite(b, jen.Int64().Call(id))
			b.Return(jen.Nil())
			return
		}
		args = append(args, fieldArgs("row", v.mi.updateCols)...)
		b.List(jen.Id("tag"), jen.Err()).Op(":=").Add(v.exec()).Dot("Exec").Call(args...)
		b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(errorf("update "+v.mi.what+" %d: %w", id, jen.Err())))
		b.If(jen.Id("tag").Dot("RowsAffected").Call().Op("==").Lit(0)).
			Block(jen.Return(errorf("update "+v.mi.what+" %d: %w", id, rt("ErrNotFound"))))
		v.afterWrite(b, jen.Int64().Call(id))
		b.Return(jen.Nil())
	})
}

func (e *emitter) delete(f *jen.File, v variant) {
	m := v.mi.m
	text := "Delete removes the row with the given ID in one round trip"
	if v.mi.sharded {
		text += ", on the shard the\nID carries"
	}
	text += ". The error wraps runtime.ErrNotFound when there is none."
	if m.HasLookups() {
		text += " The lookup rows of its global values are released after the row is gone." + globalNote(m)
	}
	if v.mi.m.Cache != nil {
		text += " Once committed, the row's cached copy is invalidated."
	}
	e.op(f, v, text, "Delete", []param{{"id", jen.Id(m.IDType())}}, []jen.Code{jen.Error()}, func(b *jen.Group) {
		if v.mi.sharded {
			v.shardOfID(b, jen.Id("id"), "delete "+v.mi.what+" %d", []jen.Code{jen.Id("id")})
		}
		if m.HasLookups() {
			e.deleteLookups(b, v) // lookups.go
			return
		}
		v.bind(b, "delete", "ID %d", []jen.Code{jen.Id("id")})
		b.List(jen.Id("tag"), jen.Err()).Op(":=").Add(v.exec()).Dot("Exec").Call(jen.Id("ctx"), v.query("qDelete"), jen.Int64().Call(jen.Id("id")))
		b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(errorf("delete "+v.mi.what+" %d: %w", jen.Id("id"), jen.Err())))
		b.If(jen.Id("tag").Dot("RowsAffected").Call().Op("==").Lit(0)).
			Block(jen.Return(errorf("delete "+v.mi.what+" %d: %w", jen.Id("id"), rt("ErrNotFound"))))
		v.afterWrite(b, jen.Int64().Call(jen.Id("id")))
		b.Return(jen.Nil())
	})
}

// pageArgs are the keyset arguments of every list statement.
func pageArgs() []jen.Code {
	return []jen.Code{jen.Id("page").Dot("Cursor").Call(), jen.Id("page").Dot("Size").Call()}
}

// queryRows runs a list statement and hands its rows to collectPage.
func (v variant) queryRows(b *jen.Group, op string, q string, args ...jen.Code) {
	all := append([]jen.Code{jen.Id("ctx"), v.query(q)}, args...)
	all = append(all, pageArgs()...)
	b.List(jen.Id("rows"), jen.Err()).Op(":=").Add(v.exec()).Dot("Query").Call(all...)
	b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), errorf(op+" "+v.mi.what+": %w", jen.Err())))
	b.Return(v.collectPage())
}

func (e *emitter) list(f *jen.File, v variant) {
	m := v.mi.m
	const paging = "To get the next\npage, set page.After to the ID of the last row returned (page.Next)."
	if !v.mi.sharded {
		text := fmt.Sprintf("List returns up to page.Size() %s rows, newest first (by ID). %s", m.GoName, paging)
		e.op(f, v, text, "List", []param{{"page", rt("Page")}},
			[]jen.Code{jen.Index().Op("*").Add(e.local(m.GoName)), jen.Error()}, func(b *jen.Group) {
				v.bind(b, "list", "", nil, jen.Nil())
				v.queryRows(b, "list", "qList")
			})
		return
	}
	g := m.Group
	text := fmt.Sprintf("List returns up to page.Size() %s rows whose %s is key, newest first\n(by ID), in one round trip on the shard of key. %s", m.GoName, m.ShardKey.GoName, paging)
	e.op(f, v, text, "List", []param{{"key", jen.Id(g.KeyType())}, {"page", rt("Page")}},
		[]jen.Code{jen.Index().Op("*").Add(e.local(m.GoName)), jen.Error()}, func(b *jen.Group) {
			b.Id("shard").Op(":=").Add(shardOfKey(v.group(), g, jen.Id("key")))
			v.bind(b, "list", "key %v", []jen.Code{jen.Id("key")}, jen.Nil())
			v.queryRows(b, "list", "qList", keyArg(g, jen.Id("key")))
		})
}

func (e *emitter) listBy(f *jen.File, v variant, r *model.Relation) {
	m := v.mi.m
	to := r.To
	text := fmt.Sprintf("%s returns up to page.Size() %s rows whose %s is id, newest first (by\nID). ", r.AccessorName(), m.GoName, r.Field.GoName)
	if v.mi.sharded {
		text += fmt.Sprintf("They live on the shard of the %s (%s.%s holds the %s's %s),\n"+
			"so this is one round trip on the shard id carries. ", to.GoName, m.GoName, r.Via.GoName, to.GoName, to.ShardKey.GoName)
	}
	text += "To get the next page, set page.After to\nthe ID of the last row returned (page.Next)."
	e.op(f, v, text, r.AccessorName(), []param{{"id", jen.Id(to.IDType())}, {"page", rt("Page")}},
		[]jen.Code{jen.Index().Op("*").Add(e.local(m.GoName)), jen.Error()}, func(b *jen.Group) {
			op := "list " + v.mi.what + " by " + r.Field.GoName + " %d"
			if v.mi.sharded {
				v.shardOfID(b, jen.Id("id"), op, []jen.Code{jen.Id("id")}, jen.Nil())
			}
			v.bind(b, "list", to.GoName+" ID %d", []jen.Code{jen.Id("id")}, jen.Nil())
			all := []jen.Code{jen.Id("ctx"), v.query(relQuery(r)), jen.Int64().Call(jen.Id("id"))}
			all = append(all, pageArgs()...)
			b.List(jen.Id("rows"), jen.Err()).Op(":=").Add(v.exec()).Dot("Query").Call(all...)
			b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), errorf(op+": %w", jen.Id("id"), jen.Err())))
			b.Return(v.collectPage())
		})
}

func (e *emitter) count(f *jen.File, v variant) {
	m := v.mi.m
	if v.mi.sharded {
		text := fmt.Sprintf("CountAllShards counts the %s rows of every logical shard of group %q.\n"+
			"It fans out to all shards (one pipelined batch per server, servers in\n"+
			"parallel): use it for reports and jobs, not on a request path.", m.GoName, m.Group.Name)
		f.Add(doc(text)).Func().Params(jen.Id("r").Op("*").Id(m.RepoName())).Id("CountAllShards").Params(ctxParam()).Params(jen.Int64(), jen.Error()).BlockFunc(func(b *jen.Group) {
			b.Var().Id("total").Qual("sync/atomic", "Int64")
			b.Err().Op(":=").Add(v.group()).Dot("FanOut").Call(jen.Id("ctx"), v.query("qCount"), jen.Nil(),
				jen.Func().Params(jen.Id("_").Add(rt("Shard")), jen.Id("rows").Qual(pgxPath, "Rows")).Error().Block(
					jen.For(jen.Id("rows").Dot("Next").Call()).Block(
						jen.Var().Id("n").Int64(),
						jen.If(jen.Err().Op(":=").Id("rows").Dot("Scan").Call(jen.Op("&").Id("n")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
						jen.Id("total").Dot("Add").Call(jen.Id("n")),
					),
					jen.Return(jen.Id("rows").Dot("Err").Call()),
				))
			b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Lit(0), errorf("count "+v.mi.what+" on all shards: %w", jen.Err())))
			b.Return(jen.Id("total").Dot("Load").Call(), jen.Nil())
		})
		return
	}
	text := fmt.Sprintf("Count returns the number of %s rows.", m.GoName)
	e.op(f, v, text, "Count", nil, []jen.Code{jen.Int64(), jen.Error()}, func(b *jen.Group) {
		v.bind(b, "count", "", nil, jen.Lit(0))
		b.Var().Id("n").Int64()
		b.If(
			jen.Err().Op(":=").Add(v.exec()).Dot("QueryRow").Call(jen.Id("ctx"), v.query("qCount")).Dot("Scan").Call(jen.Op("&").Id("n")),
			jen.Err().Op("!=").Nil(),
		).Block(jen.Return(jen.Lit(0), errorf("count "+v.mi.what+": %w", jen.Err())))
		b.Return(jen.Id("n"), jen.Nil())
	})
}

// collectPage reads the rows of a list with runtime.CollectPage and the
// model's scan function: one allocation per page for the rows, no boxing.
func (v variant) collectPage() *jen.Statement {
	return rt("CollectPage").Call(jen.Id("rows"), jen.Id("page").Dot("Size").Call(), jen.Id(v.mi.m.ScanFunc()), jen.Lit(v.mi.what))
}
