package query

import (
	"go/token"
	"path/filepath"

	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
)

// checkNames reports generated names of custom queries that would clash
// with each other, with the rest of the generated code, or with the
// package's own declarations, so that the generated code always compiles.
func checkNames(p *model.Package, diags *diag.List) {
	// Package-level identifiers.
	idents := map[string]string{}
	for _, id := range p.GeneratedIdents() {
		idents[id] = "generated code"
	}
	declared := map[string]token.Position{}
	for _, d := range p.Declared {
		declared[d.Text] = d.Pos
	}
	add := func(name, what string, pos token.Position) {
		if prev, ok := idents[name]; ok {
			diags.Errorf(pos, "generated name %s of %s clashes with %s; rename the query", name, what, prev)
			return
		}
		if dpos, ok := declared[name]; ok {
			diags.Errorf(pos, "generated name %s of %s clashes with the declaration at %s:%d:%d; rename one of them", name, what, filepath.Base(dpos.Filename), dpos.Line, dpos.Column)
			return
		}
		idents[name] = what
	}
	// DB members: model repositories, In...Tx/In...Shard methods and the
	// query sets' fields share one namespace.
	members := map[string]string{}
	for _, m := range p.Models {
		members[m.DBField()] = "model " + m.GoName
	}
	for _, d := range p.Databases {
		members[d.InTxFunc()] = "database " + d.Name
	}
	for _, g := range p.Groups {
		members[g.InShardFunc()] = "group " + g.Name
	}
	for _, s := range p.Queries {
		if len(s.Queries) == 0 {
			continue
		}
		pos := token.Position{Filename: s.Dir}
		what := "the queries of " + model.QueriesDir + "/" + s.Name()
		if prev, ok := members[s.TypeName()]; ok {
			diags.Errorf(pos, "DB field %s of %s clashes with the one of %s", s.TypeName(), what, prev)
		}
		members[s.TypeName()] = what
		add(s.TypeName(), what, pos)
		add(s.TxTypeName(), what, pos)
		if s.Group != nil {
			add(s.ShardType(), what, pos)
		}
		// The transaction type gets a Queries method and a queries field.
		var models []*model.Model
		if s.Group != nil {
			models = s.Group.Models
		} else {
			models = s.Database.Models
		}
		for _, m := range models {
			if m.DBField() == "Queries" {
				diags.Errorf(m.Pos, "model %s: its transaction accessor %s clashes with the Queries method that %s/%s gives the transaction type; rename the model", m.GoName, m.DBField(), model.QueriesDir, s.Name())
			}
		}
		methods := map[string]string{"WithTx": "the query set"}
		method := func(name, what string, pos token.Position) {
			if prev, ok := methods[name]; ok {
				diags.Errorf(pos, "method %s.%s of %s clashes with %s", s.TypeName(), name, what, prev)
				return
			}
			methods[name] = what
		}
		for _, q := range s.Queries {
			what := "query " + q.Name
			method(q.Name, what, q.Pos)
			if q.FanOut {
				method(q.FanOutName(), what, q.Pos)
			}
			if len(q.Params) > 1 {
				add(q.ParamsType(), what, q.Pos)
			}
			if (q.Cmd == model.CmdOne || q.Cmd == model.CmdMany) && q.RowModel == nil && len(q.Columns) > 1 {
				add(q.RowType(), what, q.Pos)
			}
			if q.Cmd == model.CmdMany {
				add(q.ScanFunc(), what, q.Pos)
			}
		}
	}
}
