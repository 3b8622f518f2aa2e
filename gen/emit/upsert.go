package emit

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
)

// This file writes the upserts (model.Model.Upserts: UpsertBy<Field> for a
// field with the upsert option), one body for both repository variants
// (see emitter.op). Each is one INSERT ... ON CONFLICT (field) DO UPDATE
// ... RETURNING on one shard or database: one round trip.

// upsertQuery names the repository field holding an upsert's statement.
func upsertQuery(u model.Upsert) string { return "q" + u.Name }

// upsertAlias names the table in an upsert, so that DO UPDATE can refer to
// the row already there.
const upsertAlias = `"existing"`

// upsertSQL is the statement of u. On the primary key, $1 is the ID: 0
// mints a new one as Insert does (COALESCE(NULLIF($1, 0), <the column's
// default>)); the other columns follow. On a unique field the ID is always
// minted. DO UPDATE writes what Update writes (every column but the ID and
// the shard key, and the target itself), bumps a row version, and on a
// sharded model only touches a row of the same shard key: a unique value is
// unique per logical shard, so the row it conflicts with may belong to
// another key of that shard, which the statement then leaves alone and
// returns no row.
func upsertSQL(mi *modelInfo, u model.Upsert) string {
	m := mi.m
	table := runtime.SchemaToken + "." + ddl.QuoteIdent(m.Table)
	id := ddl.QuoteIdent(m.PK.Column)
	cols := columns(mi.insertCols)
	vals := params(1, len(mi.insertCols))
	onPK := u.Field == m.PK
	if onPK {
		var mint string
		if mi.sharded {
			mint = runtime.SchemaToken + "." + runtime.IDFunctionName + "()"
		} else {
			mint = "nextval(pg_get_serial_sequence('" + `"public".` + ddl.QuoteIdent(m.Table) + "', '" + m.PK.Column + "'))"
		}
		cols = append([]string{id}, cols...)
		vals = append([]string{"COALESCE(NULLIF($1::bigint, 0), " + mint + ")"}, params(2, len(mi.insertCols))...)
	}
	var sets []string
	for _, f := range mi.updateCols {
		if f != u.Field {
			c := ddl.QuoteIdent(f.Column)
			sets = append(sets, c+" = EXCLUDED."+c)
		}
	}
	ret := id
	if v := mi.version; v != nil {
		c := ddl.QuoteIdent(v.Column)
		sets = append(sets, c+" = "+upsertAlias+"."+c+" + 1")
		ret += ", " + c
	}
	if len(sets) == 0 {
		// Nothing else to write: a no-op update, so that RETURNING still
		// returns the row.
		c := ddl.QuoteIdent(u.Field.Column)
		sets = append(sets, c+" = EXCLUDED."+c)
	}
	sql := "INSERT INTO " + table + " AS " + upsertAlias + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") +
		") ON CONFLICT (" + ddl.QuoteIdent(u.Field.Column) + ") DO UPDATE SET " + strings.Join(sets, ", ")
	if mi.sharded {
		k := ddl.QuoteIdent(m.ShardKey.Column)
		sql += " WHERE " + upsertAlias + "." + k + " = EXCLUDED." + k
	}
	return sql + " RETURNING " + ret
}

// upsertQueries are the repository fields of mi's upserts.
func upsertQueries(mi *modelInfo) []string {
	var out []string
	for _, u := range mi.m.Upserts() {
		out = append(out, upsertQuery(u))
	}
	return out
}

// upserts writes the upserts of v's model.
func (e *emitter) upserts(f *jen.File, v variant) {
	for _, u := range v.mi.m.Upserts() {
		e.upsert(f, v, u)
	}
}

func (e *emitter) upsert(f *jen.File, v variant, u model.Upsert) {
	m := v.mi.m
	onPK := u.Field == m.PK
	var text string
	if onPK {
		text = fmt.Sprintf("%[1]s inserts row, or, when a row with ID row.%[2]s exists, writes\n"+
			"every column of row over it (as Update does), in one round trip. With\n"+
			"row.%[2]s 0 it inserts a row with a new ID, as Insert does. It sets\n"+
			"row.%[2]s and returns the ID.", u.Name, m.PK.GoName)
		if v.mi.sharded {
			text += fmt.Sprintf(" The row goes to the shard of row.%[1]s; an ID\n"+
				"carrying another shard is refused (runtime.ErrWrongShard), and so is an\n"+
				"existing row of that ID with another %[1]s (runtime.ErrConflict).", m.ShardKey.GoName)
		} else {
			text += " An ID given must be one the database minted: the identity\nsequence does not advance past IDs inserted explicitly."
		}
	} else {
		text = fmt.Sprintf("%[1]s inserts row, or, when a row with the same %[2]s exists,\n"+
			"writes every column of row over it (as Update does), in one round trip\n"+
			"(INSERT ... ON CONFLICT (%[3]s) DO UPDATE). It sets row.%[4]s to the ID of\n"+
			"the row written, new or existing, and returns it; an ID already in row is\n"+
			"ignored.", u.Name, u.Field.GoName, u.Field.Column, m.PK.GoName)
		if v.mi.sharded {
			text += fmt.Sprintf(" It runs on the shard of row.%[1]s. %[2]s is unique within a\n"+
				"logical shard, so the existing row may belong to another %[1]s on that\n"+
				"shard: it is then left alone and the error wraps runtime.ErrConflict.", m.ShardKey.GoName, u.Field.GoName)
		}
	}
	if ver := v.mi.version; ver != nil {
		text += fmt.Sprintf(" An update bumps the row version %[1]s; row.%[1]s is set to the\nstored one.", ver.GoName)
	}
	op := "upsert " + v.mi.what + " by " + u.Field.GoName
	e.op(f, v, text, u.Name, []param{{"row", jen.Op("*").Add(e.local(m.GoName))}}, []jen.Code{jen.Id(m.IDType()), jen.Error()}, func(b *jen.Group) {
		var args []jen.Code
		if onPK {
			args = append(args, fieldOf("row", m.PK))
		}
		args = append(args, fieldArgs("row", v.mi.insertCols)...)
		if v.mi.sharded {
			key := fieldOf("row", m.ShardKey)
			b.Id("shard").Op(":=").Add(shardOfKey(v.group(), m.Group, key))
			if onPK {
				id := fieldOf("row", m.PK)
				b.If(jen.Add(id).Op("!=").Lit(0)).BlockFunc(func(g *jen.Group) {
					g.List(jen.Id("idShard"), jen.Err()).Op(":=").Add(v.group()).Dot("ShardOfID").Call(id)
					g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Lit(0), errorf(op+" %d: %w", id, jen.Err())))
					g.If(jen.Id("idShard").Op("!=").Id("shard")).Block(jen.Return(jen.Lit(0), errorf(op+" %d: "+m.ShardKey.GoName+" %v is on shard %d, the ID on shard %d: %w",
						id, key, jen.Id("shard"), jen.Id("idShard"), rt("ErrWrongShard"))))
				})
			}
			v.bind(b, "upsert", m.ShardKey.GoName+" %v", []jen.Code{key}, jen.Lit(0))
		} else {
			v.bind(b, "upsert", "", nil, jen.Lit(0))
		}
		dests := []jen.Code{jen.Op("&").Add(fieldOf("row", m.PK))}
		if ver := v.mi.version; ver != nil {
			dests = append(dests, jen.Op("&").Add(fieldOf("row", ver)))
		}
		b.If(
			jen.Err().Op(":=").Add(v.exec()).Dot("QueryRow").Call(append([]jen.Code{jen.Id("ctx"), v.query(upsertQuery(u))}, args...)...).Dot("Scan").Call(dests...),
			jen.Err().Op("!=").Nil(),
		).BlockFunc(func(g *jen.Group) {
			if v.mi.sharded {
				// DO UPDATE ... WHERE left a row of another key alone.
				g.If(jen.Qual("errors", "Is").Call(jen.Err(), rt("ErrNotFound"))).Block(
					jen.Return(jen.Lit(0), errorf(op+": "+u.Field.GoName+" %v is taken by a row of another "+m.ShardKey.GoName+" on shard %d: %w",
						fieldOf("row", u.Field), jen.Id("shard"), rt("ErrConflict"))),
				)
			}
			g.Return(jen.Lit(0), errorf(op+": %w", jen.Err()))
		})
		b.Return(jen.Id(m.IDType()).Call(fieldOf("row", m.PK)), jen.Nil())
	})
}
