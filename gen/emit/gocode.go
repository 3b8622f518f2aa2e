package emit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/model"
)

// Import paths of the packages generated code calls.
const (
	runtimePath = model.RuntimePath
	pgxPath     = model.PgxPath
	pgtypePath  = model.PgtypePath
)

func rt(name string) *jen.Statement { return jen.Qual(runtimePath, name) }

func ctxParam() jen.Code { return jen.Id("ctx").Qual("context", "Context") }

func errorf(format string, args ...jen.Code) *jen.Statement {
	return jen.Qual("fmt", "Errorf").Call(append([]jen.Code{jen.Lit(format)}, args...)...)
}

// docWidth is where doc comments wrap.
const docWidth = 76

// doc renders text as a doc comment wrapped at docWidth, ending in a newline
// so that the declaration chained after it is the one documented. A blank
// line in text ("\n\n") starts a new paragraph; other line breaks are
// re-wrapped.
func doc(text string) *jen.Statement {
	s := jen.Null()
	for i, para := range strings.Split(text, "\n\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			continue
		}
		if i > 0 {
			s.Comment("").Line()
		}
		line := ""
		for _, word := range words {
			if line != "" && len(line)+1+len(word) > docWidth {
				s.Comment(line).Line()
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		s.Comment(line).Line()
	}
	return s
}

// kv is a composite-literal element list in the given order (jen.Dict
// sorts its keys; Spec reads better with Name first).
func kv(pairs ...any) []jen.Code {
	var out []jen.Code
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, jen.Line().Id(pairs[i].(string)).Op(":").Add(pairs[i+1].(jen.Code)))
	}
	return append(out, jen.Line())
}

// sqlLit renders a SQL text as one raw string literal, so the DDL in Spec
// reads like the .sql file. A chain of one quoted literal per line joined
// with + read the same but go/printer formats such a chain in quadratic
// time, which was half of the generator's CPU on 200 models. jen has no raw
// literal, so the token is written with Op; a text a raw literal cannot hold
// (a backquote or a carriage return) falls back to a quoted literal, and the
// file is parsed before it is returned either way.
func sqlLit(sql string) *jen.Statement {
	if strings.ContainsAny(sql, "`\r") {
		return jen.Lit(sql)
	}
	return jen.Op("`" + sql + "`")
}

// emitter holds what every file of one package needs.
type emitter struct {
	p       *model.Package
	targets []ddl.Target
	models  map[*model.Model]*modelInfo
	// imports are the names the generated files import packages under
	// (model.Package.ImportNames).
	imports map[string]string
}

// modelInfo is what the emitter derives once per model.
type modelInfo struct {
	m       *model.Model
	sharded bool
	// what names the model in errors: "app.Post".
	what string
	// insertCols are the columns Insert writes (all but the ID); updateCols
	// those Update writes (all but the ID and the shard key).
	insertCols []*model.Field
	updateCols []*model.Field
	// version is the row version Update matches on and bumps (not in
	// updateCols), nil when the model has none.
	version *model.Field
	q       queries
	// stmts are the statements of q by operation, in declaration order.
	stmts []stmt
}

// stmt is one statement of a repository: op names the operation ("Get",
// "ListByPost"), which names its constant and its prepared query field.
type stmt struct{ op, sql string }

func newEmitter(p *model.Package, targets []ddl.Target) *emitter {
	e := &emitter{p: p, targets: targets, models: map[*model.Model]*modelInfo{}, imports: p.ImportNames()}
	for _, m := range p.Models {
		mi := &modelInfo{m: m, sharded: m.Placement == model.InGroup, what: p.Name + "." + m.GoName, version: m.VersionField()}
		for _, f := range m.Fields {
			if f == m.PK {
				continue
			}
			mi.insertCols = append(mi.insertCols, f)
			// A counter changes only by flushed increments: an Update
			// writing the value it read would undo the flushes since.
			if f != m.ShardKey && !f.Counter && f != mi.version {
				mi.updateCols = append(mi.updateCols, f)
			}
		}
		mi.q = buildQueries(mi)
		mi.stmts = []stmt{{"Insert", mi.q.Insert}, {"InsertMany", mi.q.InsertMany}, {"Get", mi.q.Get}}
		if mi.q.Update != "" {
			mi.stmts = append(mi.stmts, stmt{"Update", mi.q.Update})
		}
		mi.stmts = append(mi.stmts, stmt{"Delete", mi.q.Delete}, stmt{"List", mi.q.List}, stmt{"Count", mi.q.Count})
		for i, r := range m.Relations {
			mi.stmts = append(mi.stmts, stmt{r.AccessorName(), mi.q.ListBy[i]})
		}
		names, sqls := finderQueries(mi) // finders.go
		for i, n := range names {
			mi.stmts = append(mi.stmts, stmt{strings.TrimPrefix(n, "q"), sqls[i]})
		}
		mi.stmts = append(mi.stmts, stmt{strings.TrimPrefix(streamQuery, "q"), streamSQL(mi)}) // stream.go
		for _, u := range m.Upserts() {
			mi.stmts = append(mi.stmts, stmt{u.Name, upsertSQL(mi, u)}) // upsert.go
		}
		e.models[m] = mi
	}
	return e
}

// local names a type declared in the generated package.
func (e *emitter) local(name string) *jen.Statement { return jen.Qual(e.p.Path, name) }

// where describes a model's placement for doc comments.
func where(m *model.Model) string {
	if m.Placement == model.InGroup {
		return fmt.Sprintf("sharded over the logical shards of group %q by %s", m.Group.Name, m.ShardKey.GoName)
	}
	return fmt.Sprintf("on database %q", m.Database.Name)
}

// keyBase is the Go basic type of a group's shard keys.
func keyBase(g *model.Group) *jen.Statement {
	switch g.Key.Kind {
	case model.String:
		return jen.String()
	case model.Int32:
		return jen.Int32()
	case model.Int16:
		return jen.Int16()
	}
	return jen.Int64()
}

// shardOfKey is the expression routing a shard-key value (of any type with
// the group's underlying key type) to its logical shard.
func shardOfKey(group jen.Code, g *model.Group, key jen.Code) *jen.Statement {
	if g.Key.Kind == model.String {
		return jen.Add(group).Dot("ShardOfString").Call(jen.String().Call(key))
	}
	return jen.Add(group).Dot("ShardOfInt64").Call(jen.Int64().Call(key))
}

// keyArg converts a shard-key value to its basic type for pgx, which then
// encodes it without reflection.
func keyArg(g *model.Group, key jen.Code) *jen.Statement {
	return keyBase(g).Call(key)
}

// ---- shardgen.go -----------------------------------------------------

func (e *emitter) packageFile() *jen.File {
	f := e.newFile()
	e.specDecl(f)
	e.dbDecl(f)
	e.newFunc(f)
	for _, d := range e.p.Databases {
		if len(d.Models) > 0 {
			e.databaseTx(f, d)
		}
	}
	for _, g := range e.p.Groups {
		// A group's key type is the type of its models' shard keys: a
		// group left without models (a warning) has none, so it gets
		// neither a key type nor a transaction (nor, like a database
		// without models, a place in Spec and DB).
		if len(g.Models) > 0 {
			e.groupKey(f, g)
			e.groupTx(f, g)
		}
	}
	e.argHelpers(f)
	return f
}

// Names of the unexported helpers generated code declares (see
// model.Package.Idents).
const (
	jsonHelper = model.JSONHelper
	uuidHelper = model.UUIDHelper
)

// argHelpers declares the argument wrappers fieldArg uses, when a model
// needs them.
func (e *emitter) argHelpers(f *jen.File) {
	var needJSON, needUUID bool
	for _, m := range e.p.Models {
		for _, fl := range m.Fields {
			needJSON = needJSON || fl.Type.Kind == model.JSON
			needUUID = needUUID || fl.Type.Kind == model.UUID && fl.Type.Pointer && fl.Type.Ident.ImportPath != pgtypePath
		}
	}
	if needJSON {
		f.Add(doc(jsonHelper + " sends a struct, map or slice stored as jsonb as JSON text. The " +
			"runtime sends statements unprepared, so pgx cannot learn that the column is " +
			"jsonb and would not encode the value itself. A nil pointer, map or slice is " +
			"sent as NULL, and reads back as nil.")).
			Type().Id(jsonHelper).Struct(jen.Id("v").Any())
		f.Add(doc("Value implements driver.Valuer.")).
			Func().Params(jen.Id("j").Id(jsonHelper)).Id("Value").Params().Params(jen.Qual("database/sql/driver", "Value"), jen.Error()).Block(
			jen.Id("rv").Op(":=").Qual("reflect", "ValueOf").Call(jen.Id("j").Dot("v")),
			jen.Switch(jen.Id("rv").Dot("Kind").Call()).Block(
				jen.Case(jen.Qual("reflect", "Invalid")).Block(jen.Return(jen.Nil(), jen.Nil())),
				jen.Case(jen.Qual("reflect", "Pointer"), jen.Qual("reflect", "Map"), jen.Qual("reflect", "Slice")).Block(
					jen.If(jen.Id("rv").Dot("IsNil").Call()).Block(jen.Return(jen.Nil(), jen.Nil())),
				),
			),
			jen.List(jen.Id("b"), jen.Err()).Op(":=").Qual("encoding/json", "Marshal").Call(jen.Id("j").Dot("v")),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
			jen.Return(jen.String().Call(jen.Id("b")), jen.Nil()),
		)
	}
	if needUUID {
		f.Add(doc(uuidHelper+" sends a UUID held by pointer: NULL when nil. pgx encodes a "+
			"pgtype.UUID without knowing the column's type, but not a [16]byte.")).
			Func().Id(uuidHelper).Params(jen.Id("p").Op("*").Index(jen.Lit(16)).Byte()).Qual(pgtypePath, "UUID").Block(
			jen.If(jen.Id("p").Op("==").Nil()).Block(jen.Return(jen.Qual(pgtypePath, "UUID").Values())),
			jen.Return(jen.Qual(pgtypePath, "UUID").Values(jen.Dict{jen.Id("Bytes"): jen.Op("*").Id("p"), jen.Id("Valid"): jen.True()})),
		)
	}
}

func migrationsLit(ms []ddl.Migration) *jen.Statement {
	return jen.Index().Add(rt("Migration")).ValuesFunc(func(g *jen.Group) {
		for _, m := range ms {
			pairs := []any{"Version", jen.Lit(m.Version), "Name", jen.Lit(m.Name), "SQL", sqlLit(m.SQL)}
			if m.Declarative {
				pairs = append(pairs, "Declarative", jen.True())
			}
			g.Values(kv(pairs...)...)
		}
	})
}

func (e *emitter) specDecl(f *jen.File) {
	var dbs, groups []jen.Code
	for _, t := range e.targets {
		if t.Database != nil {
			dbs = append(dbs, jen.Line().Values(kv("Name", jen.Lit(t.Database.Name), "Migrations", migrationsLit(t.Migrations))...))
			continue
		}
		groups = append(groups, jen.Line().Values(kv("Name", jen.Lit(t.Group.Name), "Shards", jen.Lit(t.Group.Shards),
			"Migrations", migrationsLit(t.Migrations))...))
	}
	var fields []any
	if len(dbs) > 0 {
		fields = append(fields, "Databases", jen.Index().Add(rt("DatabaseSpec")).Values(append(dbs, jen.Line())...))
	}
	if len(groups) > 0 {
		fields = append(fields, "Groups", jen.Index().Add(rt("GroupSpec")).Values(append(groups, jen.Line())...))
	}
	f.Add(doc(fmt.Sprintf("Spec lists the databases and shard groups the models of package %s live on,\n"+
		"with the DDL that creates their tables (see %s). Open the router with it\n"+
		"(runtime.Open) and apply the DDL with runtime.Migrate; the DDL is declarative\n"+
		"and additive, so migrating again after go generate brings every database and\n"+
		"shard up to the models. Its Layout (zero: runtime.DefaultLayout) is the ID\n"+
		"layout of every shard group; set it, if at all, before Open and the first\n"+
		"Migrate.", e.p.Name, model.SchemaFileName))).Var().Id("Spec").Op("=").Add(rt("Spec")).Values(kv(fields...)...)
}

func (e *emitter) dbDecl(f *jen.File) {
	f.Add(doc(fmt.Sprintf("DB is the data layer of package %s: one repository per model, bound to\n"+
		"the databases and shard groups of a runtime.Router. Build it with New; it\n"+
		"is safe for concurrent use.\n\n"+
		"Every primary key and shard key has a distinct type (a model's ID type,\n"+
		"a group's Key type), so that the ID of another model, a key of another\n"+
		"group or a plain number is not passed where one is expected by mistake:\n"+
		"such a call fails to compile.", e.p.Name))).Type().Id("DB").StructFunc(func(g *jen.Group) {
		for _, m := range e.p.Models {
			g.Add(doc(fmt.Sprintf("%s stores %s rows in table %q, %s.", m.DBField(), m.GoName, m.Table, where(m)))).Id(m.DBField()).Op("*").Add(e.local(m.RepoName()))
		}
		g.Line()
		for _, d := range e.p.Databases {
			if len(d.Models) > 0 {
				g.Id(d.FieldName()).Op("*").Add(rt("Database"))
			}
		}
		for _, grp := range e.p.Groups {
			if len(grp.Models) > 0 {
				g.Id(grp.FieldName()).Op("*").Add(rt("Group"))
			}
		}
		e.queryDBFields(g) // custom SQL (query.go)
	})
}

func (e *emitter) newFunc(f *jen.File) {
	newText := "New binds the repositories to r, which must have been opened with Spec.\n" +
		"It resolves every database and shard group once and prepares every\n" +
		"query, so repository calls do no lookups by name."
	sharded := slices.ContainsFunc(e.p.Groups, func(g *model.Group) bool { return len(g.Models) > 0 })
	if sharded {
		newText += " It fails when r was opened with another ID layout than Spec.Layout, which the ID types decode with."
	}
	f.Add(doc(newText)).Func().Id("New").Params(jen.Id("r").Op("*").Add(rt("Router"))).Params(jen.Op("*").Id("DB"), jen.Error()).BlockFunc(func(b *jen.Group) {
		b.Id("db").Op(":=").Op("&").Id("DB").Values()
		b.Var().Err().Error()
		for _, d := range e.p.Databases {
			if len(d.Models) == 0 {
				continue
			}
			b.If(
				jen.List(jen.Id("db").Dot(d.FieldName()), jen.Err()).Op("=").Id("r").Dot("Database").Call(jen.Lit(d.Name)),
				jen.Err().Op("!=").Nil(),
			).Block(jen.Return(jen.Nil(), errorf(e.p.Name+".New: %w", jen.Err())))
		}
		for _, g := range e.p.Groups {
			if len(g.Models) == 0 {
				continue
			}
			b.If(
				jen.List(jen.Id("db").Dot(g.FieldName()), jen.Err()).Op("=").Id("r").Dot("Group").Call(jen.Lit(g.Name)),
				jen.Err().Op("!=").Nil(),
			).Block(jen.Return(jen.Nil(), errorf(e.p.Name+".New: %w", jen.Err())))
		}
		if sharded {
			b.If(
				jen.Id("l").Op(":=").Id("r").Dot("Spec").Call().Dot("IDLayout").Call(),
				jen.Op("!").Id("l").Dot("Equal").Call(jen.Id("Spec").Dot("IDLayout").Call()),
			).Block(jen.Return(jen.Nil(), errorf(e.p.Name+".New: the router's ID layout %s is not Spec's %s", jen.Id("l"), jen.Id("Spec").Dot("IDLayout").Call())))
		}
		for _, m := range e.p.Models {
			b.Id("db").Dot(m.DBField()).Op("=").Add(e.newRepo(e.models[m]))
		}
		e.queryNew(b) // custom SQL (query.go)
		b.Return(jen.Id("db"), jen.Nil())
	})
}

// newRepo is the composite literal of a model's repository in New.
func (e *emitter) newRepo(mi *modelInfo) jen.Code {
	m := mi.m
	owner := jen.Id("db").Dot(ownerField(m))
	d := jen.Dict{}
	if mi.sharded {
		d[jen.Id("group")] = owner
	} else {
		d[jen.Id("target")] = jen.Add(owner).Dot("Target").Call()
	}
	for _, st := range mi.stmts {
		d[jen.Id("q"+st.op)] = jen.Add(owner).Dot("Prepare").Call(jen.Id(m.SQLConst(st.op)))
	}
	if m.HasLookups() {
		lookupInits(d, mi, owner) // lookups.go
	}
	return jen.Op("&").Add(e.local(m.RepoName())).Values(d)
}

func ownerField(m *model.Model) string {
	if m.Placement == model.InGroup {
		return m.Group.FieldName()
	}
	return m.Database.FieldName()
}

func relQuery(r *model.Relation) string { return "q" + r.AccessorName() }

func (e *emitter) groupKey(f *jen.File, g *model.Group) {
	var fields []string
	for _, m := range g.Models {
		fields = append(fields, m.GoName+"."+m.ShardKey.GoName)
	}
	text := fmt.Sprintf("%s is a shard key of group %q", g.KeyType(), g.Name)
	if len(fields) > 0 {
		text += fmt.Sprintf(": the value of %s", strings.Join(fields, " or "))
	}
	text += "."
	f.Add(doc(text)).Type().Id(g.KeyType()).Add(keyBase(g))
}

// txStruct declares a transaction type: the runtime transaction plus one
// transaction-bound repository per model of the database or group.
func (e *emitter) txStruct(f *jen.File, name, text string, models []*model.Model) {
	f.Add(doc(text)).Type().Id(name).StructFunc(func(g *jen.Group) {
		g.Id("tx").Op("*").Add(rt("Tx"))
		for _, m := range models {
			g.Id(lowerFirst(m.DBField())).Add(e.local(m.TxRepoName()))
		}
		e.queryTxField(g, name) // custom SQL (query.go)
	})
	f.Add(doc("Tx returns the underlying runtime transaction, for statements of your own.")).Func().Params(jen.Id("t").Op("*").Id(name)).Id("Tx").Params().Op("*").Add(rt("Tx")).Block(jen.Return(jen.Id("t").Dot("tx")))
	for _, m := range models {
		f.Add(doc(fmt.Sprintf("%s returns the %s repository bound to the transaction.", m.DBField(), m.GoName))).Func().Params(jen.Id("t").Op("*").Id(name)).Id(m.DBField()).Params().Op("*").Add(e.local(m.TxRepoName())).
			Block(jen.Return(jen.Op("&").Id("t").Dot(lowerFirst(m.DBField()))))
	}
}

// newTx is the composite literal of a transaction type inside InTx.
func (e *emitter) newTx(name string, models []*model.Model) jen.Code {
	d := jen.Dict{jen.Id("tx"): jen.Id("tx")}
	for _, m := range models {
		d[jen.Id(lowerFirst(m.DBField()))] = e.local(m.TxRepoName()).Values(jen.Dict{
			jen.Id("repo"): jen.Id("db").Dot(m.DBField()),
			jen.Id("tx"):   jen.Id("tx"),
		})
	}
	e.queryTxInit(d, name) // custom SQL (query.go)
	return jen.Op("&").Id(name).Values(d)
}

func (e *emitter) databaseTx(f *jen.File, d *model.Database) {
	e.txStruct(f, d.TxType(), fmt.Sprintf("%s is a transaction on database %q. It offers the repositories of the\nmodels stored there.", d.TxType(), d.Name), d.Models)
	fn := jen.Id("fn").Func().Params(jen.Id("tx").Op("*").Id(d.TxType())).Error()
	f.Add(doc(fmt.Sprintf("%s runs fn in a transaction on database %q: committed when fn returns\n"+
		"nil, rolled back when it returns an error or panics. It is %s with the\n"+
		"zero runtime.TxOptions.", d.InTxFunc(), d.Name, d.InTxWithFunc()))).Func().Params(jen.Id("db").Op("*").Id("DB")).Id(d.InTxFunc()).
		Params(ctxParam(), fn).Error().
		Block(jen.Return(jen.Id("db").Dot(d.InTxWithFunc()).Call(jen.Id("ctx"), rt("TxOptions").Values(), jen.Id("fn"))))
	f.Add(doc(fmt.Sprintf("%s is %s with options: isolation level, read-only, and how many\n"+
		"times to run fn when the transaction fails with runtime.ErrSerialization\n"+
		"(never by default; see runtime.TxOptions).", d.InTxWithFunc(), d.InTxFunc()))).Func().Params(jen.Id("db").Op("*").Id("DB")).Id(d.InTxWithFunc()).
		Params(ctxParam(), jen.Id("opts").Add(rt("TxOptions")), fn).Error().
		Block(jen.Return(jen.Id("db").Dot(d.FieldName()).Dot("InTxWith").Call(jen.Id("ctx"), jen.Id("opts"),
			jen.Func().Params(jen.Id("tx").Op("*").Add(rt("Tx"))).Error().Block(
				jen.Return(jen.Id("fn").Call(e.newTx(d.TxType(), d.Models))),
			))))
}

func (e *emitter) groupTx(f *jen.File, g *model.Group) {
	e.txStruct(f, g.TxType(), fmt.Sprintf("%s is a transaction on one logical shard of group %q. It offers only\n"+
		"the repositories whose rows live on that shard; their methods return an\n"+
		"error wrapping runtime.ErrWrongShard for a key or ID of another shard.", g.TxType(), g.Name), g.Models)
	f.Add(doc("Shard returns the logical shard the transaction runs on.")).Func().Params(jen.Id("t").Op("*").Id(g.TxType())).Id("Shard").Params().Add(rt("Shard")).
		Block(jen.Return(jen.Id("t").Dot("tx").Dot("Shard").Call()))
	fn := jen.Id("fn").Func().Params(jen.Id("tx").Op("*").Id(g.TxType())).Error()
	f.Add(doc(fmt.Sprintf("%s runs fn in a transaction on the logical shard of key: committed\n"+
		"when fn returns nil, rolled back when it returns an error or panics. It\n"+
		"is %s with the zero runtime.TxOptions.", g.InShardFunc(), g.InShardWithFunc()))).Func().Params(jen.Id("db").Op("*").Id("DB")).Id(g.InShardFunc()).
		Params(ctxParam(), jen.Id("key").Id(g.KeyType()), fn).Error().
		Block(jen.Return(jen.Id("db").Dot(g.InShardWithFunc()).Call(jen.Id("ctx"), jen.Id("key"), rt("TxOptions").Values(), jen.Id("fn"))))
	f.Add(doc(fmt.Sprintf("%s is %s with options: isolation level, read-only, and how\n"+
		"many times to run fn when the transaction fails with\n"+
		"runtime.ErrSerialization (never by default; see runtime.TxOptions).", g.InShardWithFunc(), g.InShardFunc()))).Func().Params(jen.Id("db").Op("*").Id("DB")).Id(g.InShardWithFunc()).
		Params(ctxParam(), jen.Id("key").Id(g.KeyType()), jen.Id("opts").Add(rt("TxOptions")), fn).Error().
		Block(jen.Return(jen.Id("db").Dot(g.FieldName()).Dot("InTxWith").Call(jen.Id("ctx"),
			shardOfKey(jen.Id("db").Dot(g.FieldName()), g, jen.Id("key")), jen.Id("opts"),
			jen.Func().Params(jen.Id("tx").Op("*").Add(rt("Tx"))).Error().Block(
				jen.Return(jen.Id("fn").Call(e.newTx(g.TxType(), g.Models))),
			))))
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
