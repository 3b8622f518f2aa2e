package runtime

import (
	"strconv"
	"strings"
)

// Spec is what the generated code needs from the deployment: the named
// databases and shard groups, the DDL to create their tables and the ID
// layout. Generated code declares it as a package variable; Open checks the
// Config against it.
type Spec struct {
	Databases []DatabaseSpec
	Groups    []GroupSpec
	// Layout is the ID layout of every group's per-shard ID function, and
	// so of every ID the groups mint; zero means DefaultLayout(). It is the
	// one place the layout is decided: Migrate installs the function with
	// it, Group.ShardOfID and the generated ID types' Shard decode with it.
	// Set it before Open (app.Spec.Layout = ...) and before the first
	// Migrate: changing it for shards that already have the function is a
	// checksum mismatch, not a silent change of IDs.
	Layout Layout
}

// IDLayout returns s.Layout, or DefaultLayout() when it is zero.
func (s Spec) IDLayout() Layout {
	if s.Layout == (Layout{}) {
		return DefaultLayout()
	}
	return s.Layout
}

// DatabaseSpec is a named database ("default" or a feature partition); its
// tables live in schema "public".
type DatabaseSpec struct {
	Name       string
	Migrations []Migration
}

// GroupSpec is a shard group with a fixed number of logical shards. Shards
// must be a power of two no larger than the Spec's IDLayout().MaxShards()
// (8,192 for DefaultLayout),
// so any ID names its shard and shards can later be split across servers
// by ranges.
type GroupSpec struct {
	Name       string
	Shards     int
	Migrations []Migration
}

// Migration is one versioned DDL step. SQL may contain SchemaToken and
// ShardToken; it is applied once per database or once per logical shard.
type Migration struct {
	Version int
	Name    string
	SQL     string
	// Declarative marks SQL that describes the desired schema and can be
	// run again at any time (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT
	// EXISTS, ...), as the migration shardgen generates is. Migrate
	// applies it again whenever its SQL differs from the last application
	// recorded for that schema. A migration that is not declarative is
	// applied once and must never change (see Migrate).
	Declarative bool
}

// Validate checks the Spec on its own: names are identifiers, no duplicates,
// the ID layout is valid, shard counts are powers of two within it. It returns a
// *ConfigError listing every problem.
func (s Spec) Validate() error {
	var p problems
	s.validate(&p)
	return p.err()
}

func (s Spec) validate(p *problems) {
	seenDB := map[string]bool{}
	for _, d := range s.Databases {
		if msg := checkIdent("spec: database", d.Name, maxIdent); msg != "" {
			p.add("%s", msg)
		}
		if seenDB[d.Name] {
			p.add("spec: database %q is declared twice", d.Name)
		}
		seenDB[d.Name] = true
		checkMigrations(p, "database "+strconv.Quote(d.Name), d.Migrations)
	}
	seenG := map[string]bool{}
	if s.Layout != (Layout{}) {
		if err := s.Layout.Validate(); err != nil {
			p.add("spec: %v", strings.TrimPrefix(err.Error(), "shardgen: "))
		}
	}
	maxShards := s.IDLayout().MaxShards()
	for _, g := range s.Groups {
		if msg := checkIdent("spec: group", g.Name, maxIdent-1-schemaDigits); msg != "" {
			p.add("%s", msg)
		}
		if seenG[g.Name] {
			p.add("spec: group %q is declared twice", g.Name)
		}
		seenG[g.Name] = true
		if g.Shards < 1 || g.Shards > maxShards || g.Shards&(g.Shards-1) != 0 {
			p.add("spec: group %q has %d shards; want a power of two between 1 and %d", g.Name, g.Shards, maxShards)
		}
		checkMigrations(p, "group "+strconv.Quote(g.Name), g.Migrations)
	}
}

func checkMigrations(p *problems, owner string, ms []Migration) {
	last := 0
	for _, m := range ms {
		if m.Version <= last {
			p.add("spec: %s: migration version %d (%q) is not greater than the previous version %d", owner, m.Version, m.Name, last)
		}
		last = m.Version
	}
}
