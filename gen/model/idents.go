package model

import (
	"fmt"
	"go/token"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// This file is the table of the identifiers generated code declares, as
// protogen decides its GoIdents when it builds its model: every name with
// the scope it is declared in and the annotation that makes shardgen
// generate it. gen/validate and gen/query check the table (two owners of one
// name, or a name the package declares itself, would not compile); gen/emit
// writes the names the table decides, including the names the generated
// files import their packages under.

// Ident is one identifier of generated code.
type Ident struct {
	Name string
	// Scope is "" for the package block (types, functions, variables and
	// the import names of generated files); otherwise the generated type
	// whose fields and methods share a namespace with Name ("DB",
	// "PostRepo", "BlogTx", "BlogQueries").
	Scope string
	// Owner is what makes shardgen generate the name.
	Owner Owner
}

// Qualified is Name prefixed by its scope: "PostRepo", "DB.Posts".
func (id Ident) Qualified() string {
	if id.Scope == "" {
		return id.Name
	}
	return id.Scope + "." + id.Name
}

// Owner is the declaration an identifier is generated for.
type Owner struct {
	// What names it in messages: "model Post", `shard group "blog"`.
	What string
	// Pos is where it was declared; zero for the package itself.
	Pos token.Position
	// Query is set for the names of custom SQL, which gen/query adds after
	// sqlc has checked the queries.
	Query bool
}

// PackageOwner owns the names every annotated package generates.
var PackageOwner = Owner{What: "every annotated package"}

// Names of the unexported helpers of shardgen.go. They are in the table
// whether or not a model needs them, so that a package cannot start to
// clash when a field type changes.
const (
	JSONHelper = "shardgenJSON"
	UUIDHelper = "shardgenUUID"
)

// Idents is the table of every identifier the generated code of p declares,
// in a fixed order: the package's own names, then databases, groups, models
// and query sets in declaration order, each owner's package-level names
// before its members. A database or group declared twice counts once.
func (p *Package) Idents() []Ident {
	var out []Ident
	add := func(o Owner, scope string, names ...string) {
		for _, n := range names {
			out = append(out, Ident{Name: n, Scope: scope, Owner: o})
		}
	}
	add(PackageOwner, "", "DB", "New", "Spec", JSONHelper, UUIDHelper)
	dbs, groups := p.uniqueDatabases(), p.uniqueGroups()
	for _, d := range dbs {
		o := Owner{What: fmt.Sprintf("database %q", d.Name), Pos: d.Pos}
		if len(d.Models) > 0 {
			add(o, "", d.TxType())
			add(o, d.TxType(), "Tx")
		}
		add(o, "DB", d.InTxFunc(), d.InTxWithFunc())
	}
	for _, g := range groups {
		o := Owner{What: fmt.Sprintf("shard group %q", g.Name), Pos: g.Pos}
		add(o, "", g.KeyType(), g.TxType())
		if len(g.Models) > 0 {
			add(o, g.TxType(), "Tx", "Shard")
		}
		add(o, "DB", g.InShardFunc(), g.InShardWithFunc())
	}
	for _, m := range p.Models {
		o := Owner{What: "model " + m.GoName, Pos: m.Pos}
		add(o, "", m.IDType(), m.RepoName(), m.TxRepoName(), m.ScanFunc())
		for _, op := range RepoOps {
			add(o, m.RepoName(), OpBody(op))
			add(o, "", m.SQLConst(op))
		}
		add(o, "", m.SQLConst("GetMany"))
		add(o, m.RepoName(), m.StreamMethod())
		add(o, "", m.SQLConst("Stream"))
		add(o, "DB", m.DBField())
		if tx := m.TxTypeName(); tx != "" {
			add(o, tx, m.DBField())
		}
		for _, r := range m.Relations {
			if r.Field == nil {
				continue
			}
			ro := Owner{What: "the relation of field " + r.Field.GoName + " of model " + m.GoName, Pos: r.Pos}
			add(ro, m.RepoName(), r.AccessorName(), OpBody(r.AccessorName()))
			add(ro, "", m.SQLConst(r.AccessorName()))
		}
		for _, fd := range m.Finders() {
			fo := Owner{What: "the finder of field " + fd.Field.GoName + " of model " + m.GoName, Pos: fd.Field.Pos}
			add(fo, m.RepoName(), fd.Name, OpBody(fd.Name))
			if fd.Global {
				// Found through the lookup, then Get: no statement of its own.
				add(fo, m.RepoName(), m.LookupField(fd.Field))
			} else {
				add(fo, "", m.SQLConst(fd.Name))
			}
		}
		if m.HasLookups() {
			add(o, m.RepoName(), SweepLookupsMethod, CheckLookupsMethod)
		}
		for _, u := range m.Upserts() {
			uo := Owner{What: "the upsert of field " + u.Field.GoName + " of model " + m.GoName, Pos: u.Field.UpsertPos}
			add(uo, m.RepoName(), u.Name, OpBody(u.Name))
			add(uo, "", m.SQLConst(u.Name))
		}
		if m.HasCountByKey() {
			add(o, m.RepoName(), "CountByKey", OpBody("CountByKey"))
			add(o, "", m.SQLConst("CountByKey"))
		}
	}
	p.redisIdents(add)
	for _, s := range p.Queries {
		if len(s.Queries) == 0 {
			continue
		}
		o := Owner{What: "the queries of " + QueriesDir + "/" + s.Name(), Pos: token.Position{Filename: s.Dir}, Query: true}
		add(o, "", s.TypeName(), s.TxTypeName())
		if s.Group != nil {
			add(o, "", s.ShardType())
		}
		add(o, "DB", s.TypeName())
		add(o, s.TxType(), "Queries")
		add(o, s.TypeName(), "WithTx")
		for _, q := range s.Queries {
			qo := Owner{What: "query " + q.Name, Pos: q.Pos, Query: true}
			add(qo, s.TypeName(), q.Name)
			add(qo, "", q.SQLConst())
			if q.FanOut {
				add(qo, s.TypeName(), q.FanOutName())
			}
			if q.NeedsParams() {
				add(qo, "", q.ParamsType())
			}
			if q.NeedsRow() {
				add(qo, "", q.RowType())
			}
			if q.NeedsScanFunc() {
				add(qo, "", q.ScanFunc())
			}
		}
	}
	return out
}

// redisIdents adds the names of the Redis layer (shardgen_redis.go), which
// exists only when a model has a Redis feature.
func (p *Package) redisIdents(add func(o Owner, scope string, names ...string)) {
	first := true
	for _, m := range p.Models {
		if !m.UsesRedis() {
			continue
		}
		o := Owner{What: "model " + m.GoName, Pos: m.Pos}
		if first {
			add(o, "", RedisType, NewRedisFunc)
			first = false
		}
		add(o, "", m.RedisName())
		add(o, RedisType, m.DBField())
		add(o, m.RedisName(), "repo")
		if m.Cache != nil {
			co := Owner{What: "the cache of model " + m.GoName, Pos: m.Cache.Pos}
			add(co, "", m.EncodeFunc(), m.DecodeFunc())
			add(co, m.RepoName(), OnWriteField)
			add(co, m.RedisName(), "cache", "Get", "GetMany", "Invalidate")
		}
		if cs := m.Counters(); len(cs) > 0 {
			add(o, m.RedisName(), "counters")
			for _, f := range cs {
				fo := Owner{What: "the counter field " + f.GoName + " of model " + m.GoName, Pos: f.Pos}
				add(fo, m.RedisName(), AddFunc(f), f.GoName)
			}
		}
	}
	for _, g := range p.uniqueGroups() {
		if g.HasCounters() {
			add(Owner{What: fmt.Sprintf("shard group %q", g.Name), Pos: g.Pos}, RedisType, g.CountersField())
		}
	}
}

// TxTypeName is the transaction type that offers m's transaction-bound
// repository ("BlogTx", "DefaultTx"); "" while m is unplaced.
func (m *Model) TxTypeName() string {
	switch {
	case m.Placement == InGroup && m.Group != nil:
		return m.Group.TxType()
	case m.Placement != InGroup && m.Database != nil:
		return m.Database.TxType()
	}
	return ""
}

// TxType is the transaction type the set's queries can run in.
func (s *QuerySet) TxType() string {
	if s.Group != nil {
		return s.Group.TxType()
	}
	return s.Database.TxType()
}

// uniqueDatabases are the databases of p, a name declared twice once (the
// validator reports the second declaration).
func (p *Package) uniqueDatabases() []*Database {
	seen := map[string]bool{}
	var out []*Database
	for _, d := range p.Databases {
		if !seen[d.Name] {
			seen[d.Name] = true
			out = append(out, d)
		}
	}
	return out
}

func (p *Package) uniqueGroups() []*Group {
	seen := map[string]bool{}
	var out []*Group
	for _, g := range p.Groups {
		if !seen[g.Name] {
			seen[g.Name] = true
			out = append(out, g)
		}
	}
	return out
}

// Import paths of the packages generated code uses besides those of field
// and query types.
const (
	RuntimePath = "github.com/shardgen/shardgen/runtime"
	LookupPath  = "github.com/shardgen/shardgen/runtime/lookup"
	PgxPath     = "github.com/jackc/pgx/v5"
	PgtypePath  = "github.com/jackc/pgx/v5/pgtype"
	// ShardredisPath is imported only by the Redis layer (RedisFileName).
	ShardredisPath = RuntimePath + "/shardredis"
)

// generatedImports are those packages with their names.
var generatedImports = [][2]string{
	{"context", "context"}, {"database/sql/driver", "driver"}, {"encoding/json", "json"},
	{"fmt", "fmt"}, {"iter", "iter"}, {"reflect", "reflect"}, {"strconv", "strconv"}, {"sync/atomic", "atomic"},
	{PgxPath, "pgx"}, {PgtypePath, "pgtype"}, {RuntimePath, "runtime"},
	{LookupPath, "lookup"},
	{ShardredisPath, "shardredis"}, {"time", "time"},
}

// LocalNames are the names generated function bodies declare (receivers,
// parameters, variables). An import name must differ from them, or a local
// would shadow the package inside the body that uses both.
var LocalNames = []string{
	"arg", "at", "b", "ctx", "db", "err", "fn", "found", "g", "got", "i", "id", "j", "k", "key",
	"keyShard", "keys", "many", "n", "on", "opts", "out", "p", "page", "q", "r", "row", "rows", "rv", "shard", "size",
	"slab", "t", "tag", "total", "tx",
	// the Redis layer's (gen/emit/redis.go)
	"cache", "cols", "delta", "dest", "ids", "invalidate", "rdb",
}

// ImportNames decides the name under which the generated files of p import
// each package they may use, keyed by import path: the package's own name,
// or that name prefixed with "shardgen" (and numbered, if need be) when p
// declares it, the generated code declares it (an unexported model named
// "runtime"), a generated body uses it for a local, or another import has
// it. gen/emit imports every package under this name, so a package that
// declares fmt still gets generated code that compiles.
func (p *Package) ImportNames() map[string]string {
	taken := map[string]bool{}
	for _, d := range p.Declared {
		taken[d.Text] = true
	}
	for _, id := range p.Idents() {
		if id.Scope == "" {
			taken[id.Name] = true
		}
	}
	for _, n := range LocalNames {
		taken[n] = true
	}
	names := map[string]string{}
	decide := func(path, name string) {
		if _, done := names[path]; done || path == "" || path == p.Path {
			return
		}
		alias := name
		if taken[alias] || token.IsKeyword(alias) {
			alias = "shardgen" + name
		}
		for i := 2; taken[alias]; i++ {
			alias = "shardgen" + name + strconv.Itoa(i)
		}
		taken[alias] = true
		names[path] = alias
	}
	for _, imp := range generatedImports {
		decide(imp[0], imp[1])
	}
	for _, m := range p.Models {
		for _, f := range m.Fields {
			if f.Type != nil {
				decide(f.Type.Ident.ImportPath, guessName(f.Type.Ident.ImportPath))
			}
		}
	}
	for _, s := range p.Queries {
		for _, q := range s.Queries {
			for _, qf := range append(append([]*QueryField{}, q.Params...), q.Columns...) {
				decide(qf.Type.Ident.ImportPath, guessName(qf.Type.Ident.ImportPath))
			}
		}
	}
	return names
}

// guessName is the likely package name of an import path: its last element
// without a major-version suffix, reduced to lower-case letters and digits.
// The name is only what the generated files call the package (they always
// import it under it), so a wrong guess still compiles.
func guessName(importPath string) string {
	elems := strings.Split(importPath, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && len(last) > 1 && last[0] == 'v' && strings.Trim(last[1:], "0123456789") == "" {
		last = elems[len(elems)-2]
	}
	last = strings.TrimSuffix(last, path.Ext(last)) // gopkg.in/yaml.v3
	var b strings.Builder
	for _, r := range strings.ToLower(last) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) && b.Len() > 0) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "pkg"
	}
	return b.String()
}
