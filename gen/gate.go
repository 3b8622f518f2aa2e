package gen

import (
	"fmt"
	"go/token"
	"path/filepath"
	"slices"

	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/gen/query"
)

// queryGate decides, from the errors found so far, which databases and
// groups have a schema sqlc can check queries against: one whose
// declaration and models have no error. An error in a package's Go files
// that belongs to no model or declaration (a type error, a directive on no
// struct) and a model placed nowhere (its table could belong to any
// database or group) stop the checking of the whole package.
func queryGate(diags *diag.List) query.Gate {
	var errs []diag.Diagnostic
	for _, d := range diags.Items() {
		if d.Severity == diag.Error {
			errs = append(errs, d)
		}
	}
	return func(p *model.Package, target *model.QuerySet) string {
		for _, m := range p.Models {
			if m.Database == nil && m.Group == nil {
				return fmt.Sprintf("%s (%s) has no valid placement, so its table could be on any of them", m.GoName, short(m.Pos))
			}
		}
		var decl token.Position
		var models []*model.Model
		if target.Group != nil {
			decl, models = target.Group.Pos, target.Group.Models
		} else {
			decl, models = target.Database.Pos, target.Database.Models
		}
		var bad []*model.Model
		for _, e := range errs {
			if filepath.Dir(e.Pos.Filename) != p.Dir {
				continue // another package, or a query file
			}
			m, ok := modelAt(p, e.Pos)
			switch {
			case !ok && decl.IsValid() && sameLine(e.Pos, decl):
				return fmt.Sprintf("its declaration has an error (%s)", short(e.Pos))
			case !ok && !declaredAt(p, e.Pos):
				return fmt.Sprintf("package %s has an error outside its models (%s)", p.Path, short(e.Pos))
			case ok && m.Placement != 0 && slices.Contains(models, m) && !slices.Contains(bad, m):
				bad = append(bad, m)
			}
		}
		switch len(bad) {
		case 0:
			return ""
		case 1:
			return fmt.Sprintf("model %s (%s) has errors", bad[0].GoName, short(bad[0].Pos))
		}
		return fmt.Sprintf("models %s (%s) and %d more have errors", bad[0].GoName, short(bad[0].Pos), len(bad)-1)
	}
}

// modelAt finds the model whose directive, declaration or fields span pos.
func modelAt(p *model.Package, pos token.Position) (*model.Model, bool) {
	for _, m := range p.Models {
		if m.Pos.Filename != pos.Filename {
			continue
		}
		start, end := m.Pos.Line, m.Pos.Line
		if m.Directive.IsValid() {
			start = min(start, m.Directive.Line)
		}
		for _, f := range m.Fields {
			end = max(end, f.Pos.Line)
		}
		for _, r := range m.Relations {
			end = max(end, r.Pos.Line)
		}
		if start <= pos.Line && pos.Line <= end {
			return m, true
		}
	}
	return nil, false
}

// declaredAt reports whether pos is on the line of a database or group
// declaration of p: its error concerns that declaration only.
func declaredAt(p *model.Package, pos token.Position) bool {
	for _, d := range p.Databases {
		if d.Pos.IsValid() && sameLine(d.Pos, pos) {
			return true
		}
	}
	for _, g := range p.Groups {
		if sameLine(g.Pos, pos) {
			return true
		}
	}
	return false
}

func sameLine(a, b token.Position) bool { return a.Filename == b.Filename && a.Line == b.Line }

// short names a position by its file's base name, for messages.
func short(p token.Position) string { return fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line) }
