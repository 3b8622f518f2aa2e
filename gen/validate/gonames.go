package validate

import (
	"fmt"
	"strings"

	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
)

// owner names an identifier's owner with where it was declared.
func owner(o model.Owner) string {
	if !o.Pos.IsValid() {
		return o.What
	}
	return fmt.Sprintf("%s (%s)", o.What, line(model.Name{Pos: o.Pos}))
}

// generatedNames checks the table of generated identifiers
// (model.Package.Idents, the names gen/emit writes): two owners must not
// generate the same name in one scope, and the package must not declare a
// package-level name the generated code declares, or the generated code
// would not compile. Each clash is reported at the declaration to rename.
func (c *checker) generatedNames() { generatedNames(c.p, c.d, false) }

// QueryNames checks the generated names of p's custom SQL, which gen/query
// adds to the model after validation, as Package checks the others.
func QueryNames(p *model.Package, diags *diag.List) { generatedNames(p, diags, true) }

// generatedNames reports clashes in p.Idents(); with queries set, only
// those of the names of custom SQL (which come last in the table).
func generatedNames(p *model.Package, d *diag.List, queries bool) {
	// Clashes are grouped per pair of owners, so that model "post" against
	// model "Post" is one error listing PostID, PostRepo and PostTxRepo.
	type pair struct{ o, prev model.Owner }
	var order []pair
	clashes := map[pair][]string{}
	first := map[[2]string]model.Owner{}
	for _, id := range p.Idents() {
		k := [2]string{id.Scope, id.Name}
		prev, dup := first[k]
		if !dup {
			first[k] = id.Owner
			continue
		}
		if id.Owner.Query != queries {
			continue
		}
		pk := pair{id.Owner, prev}
		if clashes[pk] == nil {
			order = append(order, pk)
		}
		clashes[pk] = append(clashes[pk], id.Qualified())
	}
	for _, k := range order {
		d.Errorf(k.o.Pos, "%s generates %s, which %s generates too; rename one of them", k.o.What, list(clashes[k]), owner(k.prev))
	}
	for _, decl := range p.Declared {
		o, ok := first[[2]string{"", decl.Text}]
		if !ok || o.Query != queries {
			continue
		}
		d.Errorf(decl.Pos, "%s is declared here, but shardgen generates %s for %s; rename this declaration", decl.Text, decl.Text, owner(o))
	}
}

// list joins names as "A", "A and B" or "A, B and C".
func list(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
