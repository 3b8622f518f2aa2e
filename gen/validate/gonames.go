package validate

import (
	"fmt"
	"go/token"
	"strings"

	"github.com/shardgen/shardgen/gen/model"
)

// owner is what makes the generated code declare a name: the package
// itself, a database, a group or a model, with where it was declared.
type owner struct {
	what string
	pos  token.Position
}

func (o owner) String() string {
	if !o.pos.IsValid() {
		return o.what
	}
	return fmt.Sprintf("%s (%s)", o.what, line(model.Name{Pos: o.pos}))
}

// generatedNames checks the Go identifiers the generated code declares (the
// names gen/model/gonames.go derives, as gen/emit writes them): two owners
// must not derive the same name, and the package must not already declare
// one, or the generated code would not compile. Each clash is reported at
// the declaration to rename.
func (c *checker) generatedNames() {
	// Clashes are grouped per pair of owners, so that model "post" against
	// model "Post" is one error listing PostID, PostRepo and PostTxRepo.
	type pair struct{ o, prev owner }
	var order []pair
	clashes := map[pair][]string{}
	claim := func(names map[string]owner, name string, o owner) {
		if prev, dup := names[name]; dup {
			k := pair{o, prev}
			if clashes[k] == nil {
				order = append(order, k)
			}
			clashes[k] = append(clashes[k], name)
			return
		}
		names[name] = o
	}
	// A database or group declared twice is reported as such; only its
	// first declaration counts here.
	var dbs []*model.Database
	seenDB := map[string]bool{}
	for _, d := range c.p.Databases {
		if !seenDB[d.Name] {
			seenDB[d.Name] = true
			dbs = append(dbs, d)
		}
	}
	var groups []*model.Group
	seenGroup := map[string]bool{}
	for _, g := range c.p.Groups {
		if !seenGroup[g.Name] {
			seenGroup[g.Name] = true
			groups = append(groups, g)
		}
	}
	types := map[string]owner{}
	pkg := owner{what: "every annotated package"}
	for _, name := range []string{"DB", "New", "Spec", "shardgenJSON", "shardgenUUID"} {
		claim(types, name, pkg)
	}
	for _, d := range dbs {
		if len(d.Models) > 0 {
			claim(types, d.TxType(), owner{fmt.Sprintf("database %q", d.Name), d.Pos})
		}
	}
	for _, g := range groups {
		o := owner{fmt.Sprintf("shard group %q", g.Name), g.Pos}
		claim(types, g.KeyType(), o)
		claim(types, g.TxType(), o)
	}
	for _, m := range c.p.Models {
		o := owner{"model " + m.GoName, m.Pos}
		claim(types, m.IDType(), o)
		claim(types, m.RepoName(), o)
		claim(types, m.TxRepoName(), o)
	}
	// Fields and methods of the generated DB type share one namespace.
	members := map[string]owner{}
	for _, d := range dbs {
		claim(members, "DB."+d.InTxFunc(), owner{fmt.Sprintf("database %q", d.Name), d.Pos})
	}
	for _, g := range groups {
		claim(members, "DB."+g.InShardFunc(), owner{fmt.Sprintf("shard group %q", g.Name), g.Pos})
	}
	for _, m := range c.p.Models {
		claim(members, "DB."+m.DBField(), owner{"model " + m.GoName, m.Pos})
	}
	for _, k := range order {
		c.d.Errorf(k.o.pos, "%s generates %s, which %s generates too; rename one of them", k.o.what, list(clashes[k]), k.prev)
	}

	// GeneratedIdents is the emitter's own list; the owners above only say
	// who generates a name.
	generated := map[string]bool{}
	for _, name := range c.p.GeneratedIdents() {
		generated[name] = true
	}
	for _, d := range c.p.Declared {
		if !generated[d.Text] {
			continue
		}
		if o, ok := types[d.Text]; ok {
			c.d.Errorf(d.Pos, "%s is declared here, but shardgen generates %s for %s; rename this declaration", d.Text, d.Text, o)
		} else {
			c.d.Errorf(d.Pos, "%s is declared here, but shardgen generates %s; rename this declaration", d.Text, d.Text)
		}
	}
}

// list joins names as "A", "A and B" or "A, B and C".
func list(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
