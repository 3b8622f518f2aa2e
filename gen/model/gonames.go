package model

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file names the Go identifiers and files of generated code. Every name
// the emitter writes comes from here, so that a rename is one edit and the
// validator can ask which package-level names generated code will declare.

// Generated file names that do not depend on a model.
const (
	// PackageFileName holds the package-level declarations (Spec, DB, New,
	// key and transaction types).
	PackageFileName = "shardgen.go"
	// SchemaFileName holds the DDL of every database and group, for humans.
	SchemaFileName = "shardgen_schema.sql"
	// FilePrefix starts the name of every generated file.
	FilePrefix = "shardgen_"
)

// isInitialism reports whether a word is written all upper case in Go
// names, following the Go convention (URL, not Url) so generated names read
// like hand-written ones.
func isInitialism(word string) bool {
	switch strings.ToLower(word) {
	case "acl", "api", "ascii", "cpu", "css", "dns", "eof", "guid", "html", "http",
		"https", "id", "ip", "json", "lhs", "qps", "ram", "rhs", "rpc", "sla", "smtp",
		"sql", "ssh", "tcp", "tls", "ttl", "udp", "ui", "uid", "uuid", "uri", "url",
		"utf8", "vm", "xml", "xmpp", "xsrf", "xss":
		return true
	}
	return false
}

// GoExported turns a database or group name (snake_case, as annotations
// require) into an exported Go identifier: "blog" -> "Blog", "user_data" ->
// "UserData", "api_logs" -> "APILogs".
func GoExported(name string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(name, "_") {
		if part == "" {
			continue
		}
		if isInitialism(part) {
			b.WriteString(strings.ToUpper(part))
			continue
		}
		b.WriteString(upperFirst(part))
	}
	if b.Len() == 0 {
		return "X"
	}
	s := b.String()
	if r, _ := utf8.DecodeRuneInString(s); unicode.IsDigit(r) {
		// "2024_logs" cannot start an identifier.
		s = "X" + s
	}
	return s
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// ExportedName is the model's struct name with its first letter upper-cased,
// the stem of every generated name of the model (an unexported struct
// "post" still gets an exported PostRepo).
func (m *Model) ExportedName() string { return upperFirst(m.GoName) }

// IDType names the distinct type of the model's primary key, "PostID".
func (m *Model) IDType() string { return m.ExportedName() + "ID" }

// RepoName names the model's repository type, "PostRepo".
func (m *Model) RepoName() string { return m.ExportedName() + "Repo" }

// TxRepoName names the model's transaction-bound repository, "PostTxRepo".
func (m *Model) TxRepoName() string { return m.ExportedName() + "TxRepo" }

// DBField names the model's repository field of the generated DB struct and
// method of the transaction types: the plural of the struct name, "Posts",
// "Categories", "PageViews".
func (m *Model) DBField() string { return GoPlural(m.ExportedName()) }

// FileName is the model's generated file, "shardgen_posts.go". Use
// Package.FileNames to get collision-free names for a whole package.
func (m *Model) FileName() string { return goFileName(FilePrefix + m.Table) }

// goFileName appends ".go" to stem, first adding "_model" when the stem's
// last elements would make the go command treat the file as a test or as
// specific to one GOOS/GOARCH (a table "windows" must not yield
// shardgen_windows.go, which only builds on Windows).
func goFileName(stem string) string {
	parts := strings.Split(stem, "_")
	n := len(parts)
	last := parts[n-1]
	constrained := last == "test" || knownOS(last) || knownArch(last) ||
		(n >= 2 && knownOS(parts[n-2]) && knownArch(last))
	if constrained {
		stem += "_model"
	}
	return stem + ".go"
}

// FileNames returns the generated file name of every model of p, keyed by
// model. Names are unique: when two models share a table name (on different
// databases or groups), both files get the lower-cased struct name appended.
func (p *Package) FileNames() map[*Model]string {
	byTable := map[string]int{}
	for _, m := range p.Models {
		byTable[m.Table]++
	}
	names := make(map[*Model]string, len(p.Models))
	for _, m := range p.Models {
		if byTable[m.Table] > 1 {
			names[m] = goFileName(FilePrefix + m.Table + "_" + strings.ToLower(m.GoName))
			continue
		}
		names[m] = m.FileName()
	}
	return names
}

// KeyType names the group's shard-key type, "BlogKey".
func (g *Group) KeyType() string { return GoExported(g.Name) + "Key" }

// TxType names the group's shard-bound transaction type, "BlogTx".
func (g *Group) TxType() string { return GoExported(g.Name) + "Tx" }

// InShardFunc names the DB method that runs a transaction on the shard of
// a key, "InBlogShard".
func (g *Group) InShardFunc() string { return "In" + GoExported(g.Name) + "Shard" }

// FieldName names the unexported DB field holding the resolved group.
func (g *Group) FieldName() string { return "group" + GoExported(g.Name) }

// TxType names the database's transaction type, "DefaultTx", "AnalyticsTx".
func (d *Database) TxType() string { return GoExported(d.Name) + "Tx" }

// InTxFunc names the DB method that runs a transaction on the database,
// "InDefaultTx".
func (d *Database) InTxFunc() string { return "In" + GoExported(d.Name) + "Tx" }

// FieldName names the unexported DB field holding the resolved database.
func (d *Database) FieldName() string { return "database" + GoExported(d.Name) }

// AccessorName names the relation accessor on the referencing model's
// repository: the field name without its "ID" suffix after "ListBy"
// (PostID -> "ListByPost", ParentID -> "ListByParent", Author -> "ListByAuthor").
func (r *Relation) AccessorName() string {
	name := r.Field.GoName
	for _, suffix := range []string{"ID", "Id"} {
		if s, ok := strings.CutSuffix(name, suffix); ok && s != "" {
			name = s
			break
		}
	}
	return "ListBy" + upperFirst(name)
}

// GoPlural returns the plural of a CamelCase Go name by pluralizing its
// last word with Plural, the rule table names follow: Post -> Posts,
// Category -> Categories, PageView -> PageViews, Child -> Children,
// Analysis -> Analyses. A last word in capitals (an initialism) gets an
// "s": URL -> URLs.
func GoPlural(name string) string {
	snake := SnakeCase(name)
	last := snake[strings.LastIndexByte(snake, '_')+1:]
	if last == "" || len(last) > len(name) {
		return name
	}
	stem, word := name[:len(name)-len(last)], name[len(name)-len(last):]
	if strings.ToLower(word) != last {
		return name + "s" // not a plain ASCII word: leave it readable
	}
	if strings.ToUpper(word) == word {
		return name + "s"
	}
	plural := Plural(last)
	if r, _ := utf8.DecodeRuneInString(word); unicode.IsUpper(r) {
		plural = upperFirst(plural)
	}
	return stem + plural
}

// A prefixes word with its indefinite article for generated comments and
// messages: "a Post", "an Order", "an ID", "a User". The article follows
// the sound of the first letter: a vowel, except a U that sounds like
// "you" (User, Unit: a consonant then a vowel after it), or an initialism
// whose first letter's name starts with a vowel sound (an HTTPLog).
func A(word string) string {
	if word == "" {
		return word
	}
	lower := strings.ToLower(word)
	an := strings.IndexByte("aeio", lower[0]) >= 0
	if lower[0] == 'u' {
		an = len(lower) < 3 || isVowel(lower[1]) || !isVowel(lower[2])
	}
	if len(word) > 1 && unicode.IsUpper(rune(word[1])) && unicode.IsUpper(rune(word[0])) {
		// An initialism is read letter by letter: an ID, an SQLRow, a UUID.
		an = strings.IndexByte("AEFHILMNORSX", word[0]) >= 0
	}
	if an {
		return "an " + word
	}
	return "a " + word
}

// FileNameTags are the build tags a Go file name implies, as go/build reads
// them: "models_linux.go" -> [linux], "x_windows_amd64.go" -> [windows
// amd64], "models.go" and "linux.go" -> none.
func FileNameTags(name string) []string {
	stem := strings.TrimSuffix(strings.TrimSuffix(name, ".go"), "_test")
	parts := strings.Split(stem, "_")[1:]
	n := len(parts)
	switch {
	case n >= 2 && knownOS(parts[n-2]) && knownArch(parts[n-1]):
		return parts[n-2:]
	case n >= 1 && (knownOS(parts[n-1]) || knownArch(parts[n-1])):
		return parts[n-1:]
	}
	return nil
}

// BuildConstraint is the build constraint of the files the models of p are
// declared in ("" when they build everywhere), which every generated Go
// file carries: shardgen.go refers to every model, so it builds exactly
// when they do. The validator reports models whose files' constraints
// differ; then the result is the first model's.
func (p *Package) BuildConstraint() string {
	if len(p.Models) == 0 {
		return ""
	}
	return p.Models[0].Build
}

// knownOS and knownArch mirror go/build's lists (internal/syslist): a file
// name ending in one of them is built only for that system.
func knownOS(s string) bool {
	switch s {
	case "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios",
		"js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1",
		"windows", "zos":
		return true
	}
	return false
}

func knownArch(s string) bool {
	switch s {
	case "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64",
		"mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
		"ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64",
		"wasm":
		return true
	}
	return false
}
