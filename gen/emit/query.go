package emit

import (
	"fmt"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
)

// This file emits the custom SQL queries gen/query checked with sqlc: one
// type per database or group (BlogQueries) with a method per query, its
// transaction-bound variant (BlogTxQueries, from WithTx), the params and
// row structs, and for groups the BlogShard interface that lets a method
// take either a shard key or an ID as its first argument.

// querySets are the sets of p that have queries.
func querySets(p *model.Package) []*model.QuerySet {
	var out []*model.QuerySet
	for _, s := range p.Queries {
		if len(s.Queries) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// queryFileName is the name of the queries file, unless a model's file
// already has it.
func queryFileName(p *model.Package) string {
	name := model.QueryFileName
	for _, n := range p.FileNames() {
		if n == name {
			return model.FilePrefix + "queries_sql.go"
		}
	}
	return name
}

// queryDBFields declares the DB fields of the query sets (called from
// dbDecl).
func (e *emitter) queryDBFields(g *jen.Group) {
	sets := querySets(e.p)
	if len(sets) == 0 {
		return
	}
	g.Line()
	for _, s := range sets {
		g.Add(doc(fmt.Sprintf("%s runs the custom SQL of %s/%s on %s.", s.TypeName(), model.QueriesDir, s.Name(), setWhere(s)))).
			Id(s.TypeName()).Op("*").Id(s.TypeName())
	}
}

// queryNew initializes the DB fields of the query sets in New, preparing
// every statement once.
func (e *emitter) queryNew(b *jen.Group) {
	for _, s := range querySets(e.p) {
		owner := jen.Id("db").Dot(setOwner(s))
		d := jen.Dict{}
		if s.Group != nil {
			d[jen.Id("group")] = owner
		} else {
			d[jen.Id("target")] = jen.Add(owner).Dot("Target").Call()
		}
		for _, q := range s.Queries {
			d[jen.Id(queryField(q))] = jen.Add(owner).Dot("Prepare").Call(jen.Id(q.SQLConst()))
		}
		b.Id("db").Dot(s.TypeName()).Op("=").Op("&").Id(s.TypeName()).Values(d)
	}
}

// txSet returns the query set whose transaction type is txType, if any.
func (e *emitter) txSet(txType string) *model.QuerySet {
	for _, s := range querySets(e.p) {
		if setTxType(s) == txType {
			return s
		}
	}
	return nil
}

// queryTxField adds the query set to a transaction type's struct (called
// from txStruct), so that tx.Queries() reaches the prepared statements.
func (e *emitter) queryTxField(g *jen.Group, txType string) {
	if s := e.txSet(txType); s != nil {
		g.Id("queries").Op("*").Id(s.TypeName())
	}
}

// queryTxInit sets that field in InTx (called from newTx).
func (e *emitter) queryTxInit(d jen.Dict, txType string) {
	if s := e.txSet(txType); s != nil {
		d[jen.Id("queries")] = jen.Id("db").Dot(s.TypeName())
	}
}

// setTxType is the transaction type of the set's database or group.
func setTxType(s *model.QuerySet) string {
	if s.Group != nil {
		return s.Group.TxType()
	}
	return s.Database.TxType()
}

func setOwner(s *model.QuerySet) string {
	if s.Group != nil {
		return s.Group.FieldName()
	}
	return s.Database.FieldName()
}

func setWhere(s *model.QuerySet) string {
	if s.Group != nil {
		return fmt.Sprintf("one logical shard of group %q at a time", s.Group.Name)
	}
	return fmt.Sprintf("database %q", s.Database.Name)
}

func queryField(q *model.Query) string { return "q" + q.Name }

// queryType renders the Go type of a parameter or column.
func queryType(t model.QueryType) *jen.Statement {
	s := jen.Null()
	if t.Pointer {
		s.Op("*")
	}
	if t.Slice {
		s.Index()
	}
	if t.Ident.ImportPath != "" {
		return s.Qual(t.Ident.ImportPath, t.Ident.Name)
	}
	return s.Id(t.Ident.Name)
}

// fieldType renders the Go type of a parameter or column: the model's ID
// type or the group's key type when the column is known to be one.
func fieldType(qf *model.QueryField) *jen.Statement {
	switch {
	case qf.ID != nil:
		return jen.Id(qf.ID.IDType())
	case qf.Key != nil:
		return jen.Id(qf.Key.KeyType())
	}
	return queryType(qf.Type)
}

// fieldBase is the basic type of a typed ID or key field, nil for others.
func fieldBase(qf *model.QueryField) *jen.Statement {
	switch {
	case qf.ID != nil:
		return jen.Int64()
	case qf.Key != nil:
		return keyBase(qf.Key)
	}
	return nil
}

// bindArg is the bind argument of parameter qf held in v: a typed ID or key
// converted to its basic type, which pgx encodes without reflection.
func bindArg(qf *model.QueryField, v *jen.Statement) jen.Code {
	if b := fieldBase(qf); b != nil {
		return b.Call(v)
	}
	return v
}

// scanDest is where a column is scanned to: &v, or for a typed ID or key
// a pointer to its basic type (pgx then scans without reflection).
func scanDest(qf *model.QueryField, v *jen.Statement) jen.Code {
	if b := fieldBase(qf); b != nil {
		return jen.Parens(jen.Op("*").Add(b)).Call(jen.Op("&").Add(v))
	}
	return jen.Op("&").Add(v)
}

// queryFile renders shardgen_queries.go.
func (e *emitter) queryFile() *jen.File {
	f := e.newFile()
	for _, s := range querySets(e.p) {
		if s.Group != nil {
			e.shardInterface(f, s)
		}
		e.setTypes(f, s)
		for _, q := range s.Queries {
			f.Add(doc(fmt.Sprintf("%s is the text of query %s as sqlc checked it, every table qualified by %s.", q.SQLConst(), q.Name, runtime.SchemaToken))).
				Const().Id(q.SQLConst()).Op("=").Add(sqlLit(q.SQL))
			e.queryStructs(f, q)
			for _, tx := range []bool{false, true} {
				e.queryMethod(f, s, q, tx)
			}
			if q.FanOut {
				e.fanOutMethod(f, s, q)
			}
			e.queryScanFunc(f, q)
		}
	}
	return f
}

// shardInterface declares BlogShard and implements it on the group's key
// type and on the ID type of every model of the group.
func (e *emitter) shardInterface(f *jen.File, s *model.QuerySet) {
	g := s.Group
	var ids []string
	for _, m := range g.Models {
		ids = append(ids, m.IDType())
	}
	f.Add(doc(fmt.Sprintf("%s locates one logical shard of group %q for a custom query: %s, or "+
		"the ID of a row of the group (%s), which carries its shard.", s.ShardType(), g.Name, model.A(g.KeyType()), strings.Join(ids, ", ")))).
		Type().Id(s.ShardType()).Interface(
		jen.Id(s.ShardMethod()).Params(jen.Id("g").Op("*").Add(rt("Group"))).Params(rt("Shard"), jen.Error()),
	)
	f.Add(doc(fmt.Sprintf("%s implements %s: the shard the key hashes to.", s.ShardMethod(), s.ShardType()))).
		Func().Params(jen.Id("k").Id(g.KeyType())).Id(s.ShardMethod()).Params(jen.Id("g").Op("*").Add(rt("Group"))).Params(rt("Shard"), jen.Error()).
		Block(jen.Return(shardOfKey(jen.Id("g"), g, jen.Id("k")), jen.Nil()))
	for _, m := range g.Models {
		f.Add(doc(fmt.Sprintf("%s implements %s: the shard the ID carries.", s.ShardMethod(), s.ShardType()))).
			Func().Params(jen.Id("id").Id(m.IDType())).Id(s.ShardMethod()).Params(jen.Id("g").Op("*").Add(rt("Group"))).Params(rt("Shard"), jen.Error()).
			Block(jen.Return(jen.Id("g").Dot("ShardOfID").Call(jen.Int64().Call(jen.Id("id")))))
	}
}

// setTypes declares BlogQueries, BlogTxQueries and WithTx.
func (e *emitter) setTypes(f *jen.File, s *model.QuerySet) {
	text := fmt.Sprintf("%s runs the custom SQL of %s/%s, type-checked by sqlc against the tables of %s. ",
		s.TypeName(), model.QueriesDir, s.Name(), setWhat(s))
	if s.Group != nil {
		text += fmt.Sprintf("Each method runs on the one logical shard its first argument (%s) "+
			"locates, in one round trip; methods named ...AllShards visit every shard.", model.A(s.ShardType()))
	} else {
		text += "Each method is one round trip."
	}
	f.Add(doc(text)).Type().Id(s.TypeName()).StructFunc(func(g *jen.Group) {
		if s.Group != nil {
			g.Id("group").Op("*").Add(rt("Group"))
		} else {
			g.Id("target").Add(rt("Target"))
		}
		for _, q := range s.Queries {
			g.Id(queryField(q)).Op("*").Add(rt("Query"))
		}
	})
	txType := setTxType(s)
	f.Add(doc(fmt.Sprintf("%s runs the queries of %s in a transaction (%s.WithTx).", s.TxTypeName(), s.TypeName(), s.TypeName()))).
		Type().Id(s.TxTypeName()).Struct(
		jen.Id("q").Op("*").Id(s.TypeName()),
		jen.Id("tx").Op("*").Add(rt("Tx")),
	)
	wtext := fmt.Sprintf("WithTx returns the queries bound to tx, a transaction on %s.", setWhat(s))
	if s.Group != nil {
		wtext += " Their methods return an error wrapping runtime.ErrWrongShard for a key or ID of another shard than the transaction's."
	}
	f.Add(doc(wtext)).Func().Params(jen.Id("q").Op("*").Id(s.TypeName())).Id("WithTx").Params(jen.Id("tx").Op("*").Id(txType)).Id(s.TxTypeName()).
		Block(jen.Return(jen.Id(s.TxTypeName()).Values(jen.Dict{jen.Id("q"): jen.Id("q"), jen.Id("tx"): jen.Id("tx").Dot("tx")})))
	f.Add(doc(fmt.Sprintf("Queries returns the custom queries of %s/%s bound to the transaction (%s.WithTx).", model.QueriesDir, s.Name(), s.TypeName()))).
		Func().Params(jen.Id("t").Op("*").Id(txType)).Id("Queries").Params().Id(s.TxTypeName()).
		Block(jen.Return(jen.Id("t").Dot("queries").Dot("WithTx").Call(jen.Id("t"))))
}

func setWhat(s *model.QuerySet) string {
	if s.Group != nil {
		return fmt.Sprintf("group %q", s.Group.Name)
	}
	return fmt.Sprintf("database %q", s.Database.Name)
}

// resultType is what one result of the query is read into: the model's
// struct, the single column's type, or the query's Row struct.
func (e *emitter) resultType(q *model.Query) *jen.Statement {
	switch {
	case q.RowModel != nil:
		return e.local(q.RowModel.GoName)
	case len(q.Columns) == 1:
		return fieldType(q.Columns[0])
	}
	return jen.Id(q.RowType())
}

// queryStructs declares the Params and Row structs when the query needs
// them (more than one parameter; several columns not matching a model).
func (e *emitter) queryStructs(f *jen.File, q *model.Query) {
	field := func(g *jen.Group, qf *model.QueryField) {
		g.Id(qf.GoName).Add(fieldType(qf)).Comment(qf.Name + " " + qf.SQLType)
	}
	if q.NeedsParams() {
		f.Add(doc(fmt.Sprintf("%s are the parameters of query %s, in order.", q.ParamsType(), q.Name))).
			Type().Id(q.ParamsType()).StructFunc(func(g *jen.Group) {
			for _, p := range q.Args() {
				field(g, p)
			}
		})
	}
	if q.NeedsRow() {
		f.Add(doc(fmt.Sprintf("%s is one result row of query %s.", q.RowType(), q.Name))).
			Type().Id(q.RowType()).StructFunc(func(g *jen.Group) {
			for _, c := range q.Columns {
				field(g, c)
			}
		})
	}
}

// paramDecls are the method parameters after ctx (and the shard) and the
// bind arguments they become, in the statement's order: the routing key
// first when the query pins the shard key (routeName names it), then the
// other parameters, one alone or as the Params struct.
func (e *emitter) paramDecls(q *model.Query) (decls, args []jen.Code) {
	vals := map[*model.QueryField]*jen.Statement{}
	if q.Route != nil {
		decls = append(decls, jen.Id(e.routeName(q)).Add(fieldType(q.Route)))
		vals[q.Route] = jen.Id(e.routeName(q))
	}
	rest := q.Args()
	switch len(rest) {
	case 0:
	case 1:
		name := e.argName(rest[0].GoName)
		decls = append(decls, jen.Id(name).Add(fieldType(rest[0])))
		vals[rest[0]] = jen.Id(name)
	default:
		decls = append(decls, jen.Id("arg").Id(q.ParamsType()))
		for _, p := range rest {
			vals[p] = jen.Id("arg").Dot(p.GoName)
		}
	}
	for _, p := range q.Params {
		args = append(args, bindArg(p, vals[p]))
	}
	return decls, args
}

// routeName is the method parameter of the routing key.
func (e *emitter) routeName(q *model.Query) string { return e.argName(q.Route.GoName) }

// argName lower-cases the leading word of a Go name for a parameter
// (AuthorID -> authorID, ID -> id), avoiding the names the method uses,
// keywords and the import names of the file (a parameter "time" would hide
// package time from the body).
func (e *emitter) argName(goName string) string {
	r := []rune(goName)
	i := 0
	for i < len(r) && r[i] >= 'A' && r[i] <= 'Z' {
		i++
	}
	if i > 1 && i < len(r) {
		i-- // "URLPath": the P starts the next word
	}
	if i == 0 {
		i = 1
	}
	name := strings.ToLower(string(r[:i])) + string(r[i:])
	switch name {
	case "ctx", "at", "q", "shard", "err", "rows", "row", "tag", "arg", "out":
		return name + "Arg"
	}
	if token.IsKeyword(name) || slices.Contains(slices.Collect(maps.Values(e.imports)), name) {
		return name + "Arg"
	}
	return name
}

// results is the method's result list; zero the zero values before an
// error.
func (e *emitter) results(q *model.Query) (results []jen.Code, zero []jen.Code) {
	switch q.Cmd {
	case model.CmdOne:
		return []jen.Code{e.resultType(q), jen.Error()}, []jen.Code{jen.Id("out")}
	case model.CmdMany:
		return []jen.Code{jen.Index().Add(e.resultType(q)), jen.Error()}, []jen.Code{jen.Nil()}
	case model.CmdExecRows:
		return []jen.Code{jen.Int64(), jen.Error()}, []jen.Code{jen.Lit(0)}
	}
	return []jen.Code{jen.Error()}, nil
}

// queryDoc is the doc comment of a query method.
func queryDoc(s *model.QuerySet, q *model.Query, tx bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s runs query %s of %s", q.Name, q.Name, filepath.ToSlash(filepath.Join(model.QueriesDir, s.Name(), filepath.Base(q.Pos.Filename))))
	switch {
	case tx:
		b.WriteString(" in the transaction.")
	case s.Group != nil && q.Route != nil:
		fmt.Fprintf(&b, " on the logical shard of %s, in one round trip: the query compares the shard key with %s, so that shard holds every row it can match.", q.Route.Name, q.Route.Name)
	case s.Group != nil:
		b.WriteString(" on the logical shard at locates, in one round trip.")
	default:
		fmt.Fprintf(&b, " on database %q, in one round trip.", s.Database.Name)
	}
	switch q.Cmd {
	case model.CmdOne:
		b.WriteString(" The error wraps runtime.ErrNotFound when there is no row.")
	case model.CmdExecRows:
		b.WriteString(" It returns the number of rows affected.")
	}
	if len(q.Doc) > 0 {
		b.WriteString("\n\n" + strings.Join(q.Doc, "\n"))
	}
	return b.String()
}

// queryMethod declares the method of a query on BlogQueries (tx false) or
// BlogTxQueries (tx true).
func (e *emitter) queryMethod(f *jen.File, s *model.QuerySet, q *model.Query, tx bool) {
	recv := jen.Id("q").Op("*").Id(s.TypeName())
	set := jen.Id("q")
	if tx {
		recv = jen.Id("q").Id(s.TxTypeName())
		set = jen.Id("q").Dot("q")
	}
	params := []jen.Code{ctxParam()}
	if s.Group != nil && q.Route == nil {
		params = append(params, jen.Id("at").Id(s.ShardType()))
	}
	decls, args := e.paramDecls(q)
	params = append(params, decls...)
	results, zero := e.results(q)
	op := e.p.Name + "." + q.Name
	fail := func(err jen.Code) []jen.Code {
		return append(append([]jen.Code{}, zero...), errorf(op+": %w", err))
	}
	f.Add(doc(queryDoc(s, q, tx))).Func().Params(recv).Id(q.Name).Params(params...).Params(results...).BlockFunc(func(b *jen.Group) {
		if q.Cmd == model.CmdOne {
			b.Var().Id("out").Add(e.resultType(q))
		}
		var exec *jen.Statement
		switch {
		case s.Group != nil:
			at := jen.Id("at")
			if q.Route != nil {
				at = jen.Id(e.routeName(q))
				b.Id("shard").Op(":=").Add(shardOfKey(jen.Add(set).Dot("group"), s.Group, jen.Id(e.routeName(q))))
			} else {
				b.List(jen.Id("shard"), jen.Err()).Op(":=").Id("at").Dot(s.ShardMethod()).Call(jen.Add(set).Dot("group"))
				b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(fail(jen.Err())...))
			}
			if tx {
				b.If(jen.Id("shard").Op("!=").Id("q").Dot("tx").Dot("Shard").Call()).Block(jen.Return(append(append([]jen.Code{}, zero...),
					errorf(op+": %v is on shard %d, the transaction on shard %d: %w", at, jen.Id("shard"), jen.Id("q").Dot("tx").Dot("Shard").Call(), rt("ErrWrongShard")))...))
				exec = jen.Id("q").Dot("tx")
			} else {
				exec = jen.Id("q").Dot("group").Dot("At").Call(jen.Id("shard"))
			}
		case tx:
			exec = jen.Id("q").Dot("tx")
		default:
			exec = jen.Id("q").Dot("target")
		}
		call := append([]jen.Code{jen.Id("ctx"), jen.Add(set).Dot(queryField(q))}, args...)
		switch q.Cmd {
		case model.CmdOne:
			b.If(
				jen.Err().Op(":=").Add(e.scanInto(jen.Add(exec).Dot("QueryRow").Call(call...), "out", q)),
				jen.Err().Op("!=").Nil(),
			).Block(jen.Return(fail(jen.Err())...))
			b.Return(jen.Id("out"), jen.Nil())
		case model.CmdMany:
			b.List(jen.Id("rows"), jen.Err()).Op(":=").Add(exec).Dot("Query").Call(call...)
			b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(fail(jen.Err())...))
			b.List(jen.Id("out"), jen.Err()).Op(":=").Id(q.ScanFunc()).Call(jen.Id("rows"))
			b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(fail(jen.Err())...))
			b.Return(jen.Id("out"), jen.Nil())
		case model.CmdExec, model.CmdExecRows:
			if q.Cmd == model.CmdExec {
				b.If(
					jen.List(jen.Id("_"), jen.Err()).Op(":=").Add(exec).Dot("Exec").Call(call...),
					jen.Err().Op("!=").Nil(),
				).Block(jen.Return(fail(jen.Err())...))
				b.Return(jen.Nil())
				break
			}
			b.List(jen.Id("tag"), jen.Err()).Op(":=").Add(exec).Dot("Exec").Call(call...)
			b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(fail(jen.Err())...))
			b.Return(jen.Id("tag").Dot("RowsAffected").Call(), jen.Nil())
		}
	})
}

// fanOutMethod declares QueryAllShards for a query marked
// "-- shardgen:fanout".
func (e *emitter) fanOutMethod(f *jen.File, s *model.QuerySet, q *model.Query) {
	decls, args := e.paramDecls(q)
	op := e.p.Name + "." + q.FanOutName()
	text := fmt.Sprintf("%s runs query %s on every logical shard of group %q (one pipelined "+
		"batch per server, servers in parallel) and returns the rows of all shards, shard by shard. "+
		"When some shards fail it returns the rows of the shards that answered together with an "+
		"error wrapping *runtime.FanOutError, which names every failed shard: the rows are then "+
		"partial. Use it for reports and jobs, not on a request path.", q.FanOutName(), q.Name, s.Group.Name)
	argList := jen.Nil()
	if len(args) > 0 {
		argList = jen.Index().Any().Values(args...)
	}
	f.Add(doc(text)).Func().Params(jen.Id("q").Op("*").Id(s.TypeName())).Id(q.FanOutName()).Params(append([]jen.Code{ctxParam()}, decls...)...).
		Params(jen.Index().Add(e.resultType(q)), jen.Error()).BlockFunc(func(b *jen.Group) {
		b.Var().Id("out").Index().Add(e.resultType(q))
		b.Err().Op(":=").Id("q").Dot("group").Dot("FanOut").Call(jen.Id("ctx"), jen.Id("q").Dot(queryField(q)), argList,
			jen.Func().Params(jen.Id("_").Add(rt("Shard")), jen.Id("rows").Qual(pgxPath, "Rows")).Error().Block(
				jen.List(jen.Id("got"), jen.Err()).Op(":=").Id(q.ScanFunc()).Call(jen.Id("rows")),
				jen.Id("out").Op("=").Append(jen.Id("out"), jen.Id("got").Op("...")),
				jen.Return(jen.Err()),
			))
		b.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id("out"), errorf(op+": %w", jen.Err())))
		b.Return(jen.Id("out"), jen.Nil())
	})
}

// scanInto reads one result of row into the variable v: with the model's
// scan function when the rows are a model's, else with Scan.
func (e *emitter) scanInto(row jen.Code, v string, q *model.Query) *jen.Statement {
	switch {
	case q.RowModel != nil:
		return scanRow(q.RowModel, row, jen.Op("&").Id(v))
	case len(q.Columns) == 1:
		return jen.Add(row).Dot("Scan").Call(scanDest(q.Columns[0], jen.Id(v)))
	}
	dests := make([]jen.Code, len(q.Columns))
	for i, c := range q.Columns {
		dests[i] = scanDest(c, jen.Id(v).Dot(c.GoName))
	}
	return jen.Add(row).Dot("Scan").Call(dests...)
}

// scanFunc declares the helper reading every row of a :many query.
func (e *emitter) queryScanFunc(f *jen.File, q *model.Query) {
	if !q.NeedsScanFunc() {
		return
	}
	f.Add(doc(fmt.Sprintf("%s reads the rows of query %s and closes them.", q.ScanFunc(), q.Name))).
		Func().Id(q.ScanFunc()).Params(jen.Id("rows").Qual(pgxPath, "Rows")).Params(jen.Index().Add(e.resultType(q)), jen.Error()).Block(
		jen.Defer().Id("rows").Dot("Close").Call(),
		jen.Var().Id("out").Index().Add(e.resultType(q)),
		jen.For(jen.Id("rows").Dot("Next").Call()).Block(
			jen.Var().Id("i").Add(e.resultType(q)),
			jen.If(jen.Err().Op(":=").Add(e.scanInto(jen.Id("rows"), "i", q)), jen.Err().Op("!=").Nil()).
				Block(jen.Return(jen.Nil(), jen.Err())),
			jen.Id("out").Op("=").Append(jen.Id("out"), jen.Id("i")),
		),
		jen.Return(jen.Id("out"), jen.Id("rows").Dot("Err").Call()),
	)
}
