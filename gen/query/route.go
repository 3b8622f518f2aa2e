package query

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardgen/shardgen/gen/model"
)

// This file finds the parameter a query on a shard group pins the shard key
// with: a comparison "key column = $n" (either way round, $n possibly cast)
// in the top-level AND chain of the statement's WHERE. Every row such a
// query reads or writes has that key, so it lives on the key's shard and
// the parameter is the only routing argument the generated method may take:
// a second one could route elsewhere and find nothing. A comparison under
// OR or NOT, in a subquery, a JOIN condition or a UNION does not pin it.

// keyEq is one "key column = $n" of a query.
type keyEq struct {
	param  int // 1-based
	model  *model.Model
	offset int
}

// keyEqualities returns the comparisons of sql (sqlc's rewritten text)
// that pin the shard key of one of tables' sharded models to a parameter.
func keyEqualities(sql string, tables map[string]*model.Model) ([]keyEq, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil || len(tree.Stmts) != 1 {
		return nil, err
	}
	var where *pg_query.Node
	var from []*pg_query.Node
	var rels []*pg_query.RangeVar
	switch n := tree.Stmts[0].Stmt.Node.(type) {
	case *pg_query.Node_SelectStmt:
		if n.SelectStmt.Op != pg_query.SetOperation_SETOP_NONE {
			return nil, nil
		}
		where, from = n.SelectStmt.WhereClause, n.SelectStmt.FromClause
	case *pg_query.Node_UpdateStmt:
		where, from, rels = n.UpdateStmt.WhereClause, n.UpdateStmt.FromClause, []*pg_query.RangeVar{n.UpdateStmt.Relation}
	case *pg_query.Node_DeleteStmt:
		where, from, rels = n.DeleteStmt.WhereClause, n.DeleteStmt.UsingClause, []*pg_query.RangeVar{n.DeleteStmt.Relation}
	default:
		return nil, nil
	}
	for _, f := range from {
		rels = append(rels, fromRels(f)...)
	}
	// byName: the tables of the statement by the name a column may be
	// qualified with (the alias, or the table's name without one).
	byName := map[string]*model.Model{}
	var all []*model.Model
	for _, r := range rels {
		if r == nil || r.Schemaname != "" {
			continue
		}
		m := tables[r.Relname]
		name := r.Relname
		if r.Alias != nil && r.Alias.Aliasname != "" {
			name = r.Alias.Aliasname
		}
		byName[name] = m
		all = append(all, m)
	}
	var out []keyEq
	for _, c := range conjuncts(where) {
		e, ok := c.Node.(*pg_query.Node_AExpr)
		if !ok || e.AExpr.Kind != pg_query.A_Expr_Kind_AEXPR_OP || len(e.AExpr.Name) != 1 || e.AExpr.Name[0].GetString_().GetSval() != "=" {
			continue
		}
		col, param := columnRef(e.AExpr.Lexpr), paramRef(e.AExpr.Rexpr)
		if col == nil || param == nil {
			col, param = columnRef(e.AExpr.Rexpr), paramRef(e.AExpr.Lexpr)
		}
		if col == nil || param == nil {
			continue
		}
		var qual, name string
		switch len(col.Fields) {
		case 1:
			name = col.Fields[0].GetString_().GetSval()
		case 2:
			qual, name = col.Fields[0].GetString_().GetSval(), col.Fields[1].GetString_().GetSval()
		default:
			continue
		}
		var m *model.Model
		if qual != "" {
			m = byName[qual]
		} else {
			// Unqualified: the one table of the statement with the column
			// (sqlc has refused an ambiguous one).
			for _, t := range all {
				if t != nil && hasColumn(t, name) {
					m = t
					break
				}
			}
		}
		if m == nil || m.Placement != model.InGroup || m.ShardKey == nil || m.ShardKey.Column != name {
			continue
		}
		out = append(out, keyEq{param: int(param.Number), model: m, offset: int(e.AExpr.Location)})
	}
	return out, nil
}

// fromRels are the tables of one FROM item, through joins (not subqueries).
func fromRels(n *pg_query.Node) []*pg_query.RangeVar {
	switch f := n.Node.(type) {
	case *pg_query.Node_RangeVar:
		return []*pg_query.RangeVar{f.RangeVar}
	case *pg_query.Node_JoinExpr:
		return append(fromRels(f.JoinExpr.Larg), fromRels(f.JoinExpr.Rarg)...)
	}
	return nil
}

// conjuncts are the terms of the top-level AND chain of a WHERE clause.
func conjuncts(n *pg_query.Node) []*pg_query.Node {
	if n == nil {
		return nil
	}
	if b, ok := n.Node.(*pg_query.Node_BoolExpr); ok {
		if b.BoolExpr.Boolop != pg_query.BoolExprType_AND_EXPR {
			return nil
		}
		var out []*pg_query.Node
		for _, a := range b.BoolExpr.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg_query.Node{n}
}

func columnRef(n *pg_query.Node) *pg_query.ColumnRef {
	if n == nil {
		return nil
	}
	return n.GetColumnRef()
}

// paramRef is $n, or $n cast to a type ($1::bigint).
func paramRef(n *pg_query.Node) *pg_query.ParamRef {
	for n != nil {
		if p := n.GetParamRef(); p != nil {
			return p
		}
		tc := n.GetTypeCast()
		if tc == nil {
			return nil
		}
		n = tc.Arg
	}
	return nil
}

func hasColumn(m *model.Model, column string) bool {
	for _, f := range m.Fields {
		if f.Column == column {
			return true
		}
	}
	return false
}
