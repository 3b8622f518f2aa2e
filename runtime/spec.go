package runtime

import (
	"strconv"
)

// Spec is what the generated code needs from the deployment: the named
// databases and shard groups and the DDL to create their tables. Generated
// code declares it as a package variable; Open checks the Config against it.
type Spec struct {
	Databases []DatabaseSpec
	Groups    []GroupSpec
}

// DatabaseSpec is a named database ("default" or a feature partition); its
// tables live in schema "public".
type DatabaseSpec struct {
	Name       string
	Migrations []Migration
}

// GroupSpec is a shard group with a fixed number of logical shards. Shards
// must be a power of two no larger than DefaultLayout().MaxShards() (8,192),
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
// shard counts are powers of two within the ID layout. It returns a
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
	maxShards := 1 << DefaultShardBits
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
