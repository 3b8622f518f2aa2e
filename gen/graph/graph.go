// Package graph draws the layout of a validated package as a Mermaid
// flowchart: its databases and shard groups (with their shard counts), the
// tables of the models placed on each, co-located relations (ref=, a real
// foreign key) as solid edges and plain-ID references as dashed ones. Given
// the servers of a runtime configuration, it also shows where each database
// lives and which physical server holds which range of logical shards.
//
// A plain-ID reference is not declared anywhere (it is an ordinary int64
// field without ref=), so it is recognised by name: an int64 field named
// after a model followed by ID (PostID, or ParentPostID) that is not the
// model's primary key, shard key or a ref= field refers to that model.
package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
)

// Placement is where the databases and logical shards of a package live,
// read from a runtime configuration.
type Placement struct {
	// Databases maps a database name to where it is (host:port/database).
	Databases map[string]string
	// Groups maps a group name to its servers in shard order.
	Groups map[string][]Server
}

// Server is one physical server of a group.
type Server struct {
	Name  string
	Where string // host:port/database, never a password
	Range runtime.ShardRange
}

// FromConfig checks cfg against p's databases and groups as runtime.Open
// would (every database has a connection string, the ranges of each group
// cover its shards exactly once) and returns where everything lives. Its
// error never holds a connection string.
func FromConfig(p *model.Package, cfg runtime.Config) (*Placement, error) {
	var spec runtime.Spec
	for _, d := range p.Databases {
		spec.Databases = append(spec.Databases, runtime.DatabaseSpec{Name: d.Name})
	}
	for _, g := range p.Groups {
		spec.Groups = append(spec.Groups, runtime.GroupSpec{Name: g.Name, Shards: g.Shards})
	}
	if err := cfg.Validate(spec); err != nil {
		return nil, err
	}
	out := &Placement{Databases: map[string]string{}, Groups: map[string][]Server{}}
	for name, conn := range cfg.Databases {
		out.Databases[name] = where(conn)
	}
	for name, servers := range cfg.Groups {
		var list []Server
		for _, s := range servers {
			r, err := runtime.ParseShardRange(s.Shards)
			if err != nil {
				return nil, fmt.Errorf("group %q server %q: %w", name, s.Name, err) // Validate has accepted it
			}
			list = append(list, Server{Name: s.Name, Where: where(s.URL), Range: r})
		}
		slices.SortFunc(list, func(a, b Server) int { return int(a.Range.First - b.Range.First) })
		out.Groups[name] = list
	}
	return out, nil
}

// where describes a connection string without its credentials.
func where(conn string) string {
	c, err := pgconn.ParseConfig(conn)
	if err != nil {
		return "?" // Validate has accepted it
	}
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// Mermaid renders p as a Mermaid flowchart (the text of a ```mermaid
// block). place may be nil: the layout is then drawn without servers.
func Mermaid(p *model.Package, place *Placement) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, d := range p.Databases {
		label := "database " + d.Name
		if d.Name != model.DefaultDatabase {
			label += " (partition)"
		}
		if place != nil {
			label += ": " + place.Databases[d.Name]
		}
		fmt.Fprintf(&b, "  subgraph d%d[%s]\n", i, quote(label))
		for _, m := range d.Models {
			fmt.Fprintf(&b, "    %s[(%s)]\n", node(p, m), quote(m.Table+" ("+m.GoName+")"))
		}
		if len(d.Models) == 0 {
			fmt.Fprintf(&b, "    d%d_empty[%s]\n", i, quote("no models"))
		}
		b.WriteString("  end\n")
	}
	for i, g := range p.Groups {
		label := fmt.Sprintf("shard group %s: %d logical shards, schemas %s … %s",
			g.Name, g.Shards, runtime.SchemaName(g.Name, 0), runtime.SchemaName(g.Name, runtime.Shard(max(g.Shards-1, 0))))
		fmt.Fprintf(&b, "  subgraph g%d[%s]\n", i, quote(label))
		for _, m := range g.Models {
			text := m.Table + " (" + m.GoName + ")"
			if m.ShardKey != nil {
				text += "<br/>sharded by " + m.ShardKey.Column
			}
			fmt.Fprintf(&b, "    %s[(%s)]\n", node(p, m), quote(text))
		}
		if len(g.Models) == 0 {
			fmt.Fprintf(&b, "    g%d_empty[%s]\n", i, quote("no models"))
		}
		if place != nil {
			for j, s := range place.Groups[g.Name] {
				text := fmt.Sprintf("server %s: %s<br/>shards %s: %s … %s", s.Name, s.Where, s.Range,
					runtime.SchemaName(g.Name, s.Range.First), runtime.SchemaName(g.Name, s.Range.Last))
				fmt.Fprintf(&b, "    g%ds%d[%s]\n", i, j, quote(text))
			}
		}
		b.WriteString("  end\n")
	}
	for _, m := range p.Models {
		for _, r := range m.Relations {
			if r.To == nil || r.To.PK == nil {
				continue
			}
			text := fmt.Sprintf("%s.%s → %s.%s", m.Table, r.Field.Column, r.To.Table, r.To.PK.Column)
			if r.Via != nil {
				text += " (via " + r.Via.Column + ")"
			}
			text += "<br/>foreign key"
			if m.Group != nil {
				text += " in each shard"
			}
			fmt.Fprintf(&b, "  %s -- %s --> %s\n", node(p, m), quote(text), node(p, r.To))
		}
		for _, ref := range plainRefs(p, m) {
			text := fmt.Sprintf("%s.%s: plain %s ID, no foreign key", m.Table, ref.field.Column, ref.to.GoName)
			fmt.Fprintf(&b, "  %s -. %s .-> %s\n", node(p, m), quote(text), node(p, ref.to))
		}
	}
	return b.String()
}

type plainRef struct {
	field *model.Field
	to    *model.Model
}

// plainRefs finds the plain-ID references of m (see the package
// documentation). With models Post and BlogPost, BlogPostID refers to
// BlogPost: the longest model name that ends the field name wins.
func plainRefs(p *model.Package, m *model.Model) []plainRef {
	refField := map[*model.Field]bool{}
	for _, r := range m.Relations {
		refField[r.Field] = true
	}
	var out []plainRef
	for _, f := range m.Fields {
		if f.PK || f == m.ShardKey || refField[f] || f.Type == nil || f.Type.Kind != model.Int64 || f.Type.Slice {
			continue
		}
		var best *model.Model
		for _, o := range p.Models {
			if strings.HasSuffix(f.GoName, o.GoName+"ID") && (best == nil || len(o.GoName) > len(best.GoName)) {
				best = o
			}
		}
		if best != nil {
			out = append(out, plainRef{f, best})
		}
	}
	return out
}

// node is the Mermaid id of a model's table: its index in the package, as
// names joined with separators could collide (database a_b, table c and
// database a, table b_c).
func node(p *model.Package, m *model.Model) string {
	return fmt.Sprintf("m%d", slices.Index(p.Models, m))
}

// quote makes a Mermaid label: a double-quoted string, in which a double
// quote is written as an entity.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"` }
