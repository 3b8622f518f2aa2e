package annotations

import (
	"fmt"
	"go/token"
	"strconv"
	"strings"
	"time"
)

// Directive names, in the order they are listed to the user.
var directiveNames = []string{"database", "group", "default", "partition", "shard", "cache"}

// directiveList is directiveNames for messages.
const directiveList = "database, group, default, partition, shard or cache"

// syntax describes one directive: its positional argument (if any) and the
// options it takes. It drives both parsing and the hints in messages.
type syntax struct {
	name     string
	argName  string   // what the positional argument is, "" when it takes none
	required []string // options that must be present
	options  []string // every option it takes, required ones included
	usage    string   // the directive as the user writes it
}

// syntaxOf returns the syntax of directive name, or nil when unknown.
func syntaxOf(name string) *syntax {
	switch name {
	case "database":
		return &syntax{name: name, argName: "database name", usage: "//shardgen:database <name>"}
	case "group":
		return &syntax{name: name, argName: "group name", required: []string{"shards"}, options: []string{"shards"},
			usage: "//shardgen:group <name> shards=<n>"}
	case "default":
		return &syntax{name: name, options: []string{"table"}, usage: "//shardgen:default [table=<name>]"}
	case "partition":
		return &syntax{name: name, argName: "database name", options: []string{"table"},
			usage: "//shardgen:partition <database> [table=<name>]"}
	case "shard":
		return &syntax{name: name, argName: "group name", required: []string{"key"}, options: []string{"key", "table"},
			usage: "//shardgen:shard <group> key=<Field> [table=<name>]"}
	case "cache":
		return &syntax{name: name, required: []string{"ttl"}, options: []string{"ttl"}, usage: "//shardgen:cache ttl=<duration>"}
	}
	return nil
}

// allOptions lists every option of every directive, to tell "unknown option"
// apart from "option of another directive".
var allOptions = []string{"shards", "key", "table", "ttl"}

// optionPlaceholder is how an option is shown in usage hints.
func optionPlaceholder(opt string) string {
	switch opt {
	case "shards":
		return "shards=<n>"
	case "key":
		return "key=<Field>"
	case "ttl":
		return "ttl=<duration>"
	}
	return "table=<name>"
}

// IsDirective reports whether line is a shardgen directive: a line comment
// that starts with exactly "//shardgen:". Such lines are parsed with
// ParseDirective; go/ast keeps them out of doc text.
func IsDirective(line string) bool { return strings.HasPrefix(line, Prefix) }

// LooksLikeDirective reports whether line is not a directive but is probably
// meant to be one ("// shardgen:default", "//shardgen default",
// "//shardgens:shard ...", "//Shardgen:default", "//sharding:shard ..."). The
// loader warns about such lines; SuggestDirective gives the fix. Prose that
// merely mentions shardgen ("// shardgen generates ...") is not flagged.
func LooksLikeDirective(line string) bool {
	_, ok := SuggestDirective(line)
	return ok
}

// SuggestDirective returns the directive that line, a near miss as defined by
// LooksLikeDirective, was probably meant to be: "// shardgen: default" gives
// "//shardgen:default". ok is false when line is a directive already or does
// not look like one.
func SuggestDirective(line string) (suggestion string, ok bool) {
	if IsDirective(line) || !strings.HasPrefix(line, "//") {
		return "", false
	}
	rest := line[2:]
	body := strings.TrimLeft(rest, " \t")
	indented := len(body) != len(rest)
	j := 0
	for j < len(body) && isLetter(body[j]) {
		j++
	}
	head := body[:j]
	if head == "" {
		return "", false
	}
	d := distance(strings.ToLower(head), "shardgen")
	after := strings.TrimLeft(body[j:], " \t")
	hasColon := strings.HasPrefix(after, ":")
	tail := after
	if hasColon {
		tail = strings.TrimLeft(after[1:], " \t")
	}
	k := 0
	for k < len(tail) && isLetter(tail[k]) {
		k++
	}
	// The word after the prefix must look like a directive name unless the
	// prefix itself is unmistakable; this keeps prose out.
	word := tail[:k]
	wordOK := word != "" && suggest(word, directiveNames) != "" && (k == len(tail) || !isLetter(tail[k]))
	var near bool
	switch {
	case indented:
		// "// shardgen: default": with a space after "//" this is doc text
		// unless it has the colon and a directive name.
		near = d <= 2 && hasColon && wordOK
	case d <= 2:
		// "//shardgen default", "//Shardgen:", "//shardgens:x": no Go prose
		// starts right after "//".
		near = hasColon || wordOK || strings.EqualFold(head, "shardgen")
	case d == 3:
		near = hasColon && wordOK
	}
	if !near {
		return "", false
	}
	return Prefix + tail, true
}

// tok is one whitespace-separated word of a directive line.
type tok struct {
	text string
	off  int // byte offset of text in the line
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// tokenize splits line[from:] into words separated by white space.
func tokenize(line string, from int) []tok {
	var out []tok
	i := from
	for i < len(line) {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		start := i
		for i < len(line) && !isSpace(line[i]) {
			i++
		}
		if i > start {
			out = append(out, tok{line[start:i], start})
		}
	}
	return out
}

// ParseDirective parses one "//shardgen:" line. pos is the position of the
// line's first '/'; every position reported (in the result and in errors) is
// on the same line, pos moved right by the byte offset of what it designates.
//
// All problems of the line are reported, not only the first. When errors are
// returned, the directive is a best-effort reading (nil when the directive
// name itself is unknown): callers must not generate code from it, but may
// use it to avoid follow-on errors such as "model has no placement".
func ParseDirective(line string, pos token.Position) (Directive, []Error) {
	e := &errs{base: pos}
	if !IsDirective(line) {
		e.add(0, fmt.Sprintf("not a shardgen directive: want a line starting with %s", Prefix))
		return nil, e.sorted()
	}
	// End of the meaningful text: positions of "missing ..." errors.
	end := len(strings.TrimRight(line, " \t\r\n\v\f"))
	nameOff := len(Prefix)
	if nameOff < len(line) && isSpace(line[nameOff]) {
		toks := tokenize(line, nameOff)
		if len(toks) == 0 {
			e.add(nameOff, "missing directive after "+Prefix+" (want "+directiveList+")")
			return nil, e.sorted()
		}
		e.add(nameOff, fmt.Sprintf("space after %q: write %s%s", Prefix, Prefix, toks[0].text))
		nameOff = toks[0].off
	}
	nameEnd := nameOff
	for nameEnd < len(line) && !isSpace(line[nameEnd]) {
		nameEnd++
	}
	name := line[nameOff:nameEnd]
	if name == "" {
		e.add(nameOff, "missing directive after "+Prefix+" (want "+directiveList+")")
		return nil, e.sorted()
	}
	sx := syntaxOf(name)
	if sx == nil {
		if s := suggest(name, directiveNames); s != "" {
			e.add(nameOff, fmt.Sprintf("unknown directive %q%s", name, didYouMean(Prefix+s)))
		} else {
			e.add(nameOff, fmt.Sprintf("unknown directive %q (want %s)", name, directiveList))
		}
		return nil, e.sorted()
	}

	p := &dirParser{e: e, sx: sx, seen: map[string]bool{}}
	p.scan(tokenize(line, nameEnd))

	if sx.argName != "" && p.arg == nil {
		e.add(end, fmt.Sprintf("missing %s: want %s", sx.argName, sx.usage))
	}
	for _, r := range sx.required {
		if !p.seen[r] {
			e.add(end, fmt.Sprintf("missing %s: want %s", optionPlaceholder(r), sx.usage))
		}
	}
	return p.build(pos), e.sorted()
}

// option is one key=value of a directive line as written.
type option struct {
	key, val       string
	keyOff, valOff int
}

// dirParser holds the state of parsing the arguments of one directive.
type dirParser struct {
	e        *errs
	sx       *syntax
	arg      *tok // the positional argument
	opts     []option
	seen     map[string]bool
	afterOpt bool // an option has been seen: a positional now is out of order
}

// scan reads the words after the directive name.
func (p *dirParser) scan(toks []tok) {
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if strings.HasPrefix(t.text, "//") {
			p.e.add(t.off, "comment after a directive: put it on its own line")
			return
		}
		eq := strings.IndexByte(t.text, '=')
		switch {
		case eq == 0:
			msg := fmt.Sprintf("stray %q: want option=value with no spaces", "=")
			if m := p.missing(); len(m) == 1 && len(t.text) > 1 {
				msg += didYouMean(m[0] + t.text)
			}
			p.e.add(t.off, msg)
		case eq > 0:
			o := option{key: t.text[:eq], val: t.text[eq+1:], keyOff: t.off, valOff: t.off + eq + 1}
			if o.val == "" && i+1 < len(toks) && isBare(toks[i+1]) {
				// "key= X": the value is the next word.
				p.e.add(o.valOff-1, fmt.Sprintf("space after %q: write %s=%s", "=", o.key, toks[i+1].text))
				o.val, o.valOff = toks[i+1].text, toks[i+1].off
				i++
			}
			p.option(o)
		default:
			// A word followed by "=..." is an option with spaces around '='
			// when the word can be an option name; otherwise it is the
			// positional argument and the '=' is stray.
			optLike := suggest(t.text, allOptions) != "" || p.sx.argName == "" || p.arg != nil
			if optLike && i+1 < len(toks) && strings.HasPrefix(toks[i+1].text, "=") {
				// "key = X" or "key =X": an option with spaces around '='.
				n := toks[i+1]
				o := option{key: t.text, keyOff: t.off, val: n.text[1:], valOff: n.off + 1}
				i++
				if o.val == "" && i+1 < len(toks) && isBare(toks[i+1]) {
					o.val, o.valOff = toks[i+1].text, toks[i+1].off
					i++
				}
				p.e.add(n.off, fmt.Sprintf("space around %q: write %s=%s", "=", o.key, o.val))
				p.option(o)
				continue
			}
			p.positional(t)
		}
	}
}

// isBare reports whether t is a plain word: no '=' and no comment.
func isBare(t tok) bool { return !strings.Contains(t.text, "=") && !strings.HasPrefix(t.text, "//") }

// positional handles a word that is not an option.
func (p *dirParser) positional(t tok) {
	sx := p.sx
	if sx.argName == "" || p.arg != nil {
		msg := fmt.Sprintf("unexpected argument %q to %s%s", t.text, Prefix, sx.name)
		// "group blog 16" or "shard blog AuthorID": the user forgot the
		// option name of the one required option still missing.
		if missing := p.missing(); len(missing) == 1 {
			msg += didYouMean(missing[0] + "=" + t.text)
		} else {
			msg += " (want " + sx.usage + ")"
		}
		p.e.add(t.off, msg)
		return
	}
	if p.afterOpt {
		p.e.add(t.off, fmt.Sprintf("%s %q must come before the options: want %s", sx.argName, t.text, sx.usage))
	}
	tt := t
	p.arg = &tt
	if !IsSQLName(t.text) {
		p.e.add(t.off, fmt.Sprintf("invalid %s %q: %s", sx.argName, t.text, sqlNameRule))
	}
}

// missing lists the required options not seen so far.
func (p *dirParser) missing() []string {
	var out []string
	for _, r := range p.sx.required {
		if !p.seen[r] {
			out = append(out, r)
		}
	}
	return out
}

// option checks one key=value against the directive and records it.
func (p *dirParser) option(o option) {
	p.afterOpt = true
	sx := p.sx
	if !contains(sx.options, o.key) {
		var msg string
		switch {
		case suggest(o.key, sx.options) != "":
			msg = fmt.Sprintf("unknown option %q for %s%s%s", o.key, Prefix, sx.name, didYouMean(suggest(o.key, sx.options)+"="+o.val))
		case contains(allOptions, o.key) || len(sx.options) == 0:
			msg = fmt.Sprintf("%s%s takes no option %q (want %s)", Prefix, sx.name, o.key, sx.usage)
		default:
			msg = fmt.Sprintf("unknown option %q for %s%s (want %s)", o.key, Prefix, sx.name, sx.usage)
		}
		p.e.add(o.keyOff, msg)
		return
	}
	if p.seen[o.key] {
		p.e.add(o.keyOff, fmt.Sprintf("duplicate option %s=", o.key))
		return
	}
	p.seen[o.key] = true
	if o.val == "" {
		p.e.add(o.valOff, fmt.Sprintf("missing value after %s=: want %s", o.key, optionPlaceholder(o.key)))
		return
	}
	switch o.key {
	case "shards":
		if _, ok := parseShards(o.val); !ok {
			p.e.add(o.valOff, fmt.Sprintf("invalid shards=%s: want a whole number of logical shards, at least 1", o.val))
		}
	case "key":
		if !isGoName(o.val) {
			p.e.add(o.valOff, fmt.Sprintf("invalid key=%s: want the name of a field of the struct", o.val))
		}
	case "table":
		if !IsSQLName(o.val) {
			p.e.add(o.valOff, fmt.Sprintf("invalid table name %q: %s", o.val, sqlNameRule))
		}
	case "ttl":
		if _, msg := parseTTL(o.val); msg != "" {
			p.e.add(o.valOff, fmt.Sprintf("invalid ttl=%s: %s", o.val, msg))
		}
	}
	p.opts = append(p.opts, o)
}

// parseShards accepts decimal digits only (no sign, no base prefix), so that
// what is written is what the user means.
func parseShards(s string) (int, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// Bounds of a cache's ttl=: Redis expires keys by the millisecond, and a
// value cached longer than a month is not a cache.
const (
	minTTL = time.Second
	maxTTL = 30 * 24 * time.Hour
)

// parseTTL reads a Go duration ("5m", "90s", "1h30m") between minTTL and
// maxTTL; msg says what is wrong, "" when nothing is.
func parseTTL(s string) (time.Duration, string) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, "want a Go duration such as 30s, 5m or 1h"
	case d < minTTL:
		return 0, "want at least 1s"
	case d > maxTTL:
		return 0, "want at most 720h (30 days)"
	}
	return d, ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// build assembles the directive from what was read.
func (p *dirParser) build(pos token.Position) Directive {
	ident := func(text string, off int) Ident { return Ident{Name: text, Pos: at(pos, off)} }
	var arg Ident
	if p.arg != nil {
		arg = ident(p.arg.text, p.arg.off)
	}
	var table, key *Ident
	var shards int
	var shardsPos token.Position
	var ttl time.Duration
	var ttlPos token.Position
	for _, o := range p.opts {
		id := ident(o.val, o.valOff)
		switch o.key {
		case "table":
			table = &id
		case "key":
			key = &id
		case "shards":
			shards, _ = parseShards(o.val)
			shardsPos = id.Pos
		case "ttl":
			ttl, _ = parseTTL(o.val)
			ttlPos = id.Pos
		}
	}
	switch p.sx.name {
	case "database":
		return &Database{Pos: pos, Name: arg}
	case "group":
		return &Group{Pos: pos, Name: arg, Shards: shards, ShardsPos: shardsPos}
	case "default":
		return &Default{Pos: pos, Table: table}
	case "partition":
		return &Partition{Pos: pos, Database: arg, Table: table}
	case "cache":
		return &Cache{Pos: pos, TTL: ttl, TTLPos: ttlPos}
	default:
		d := &Shard{Pos: pos, Group: arg, Table: table}
		if key != nil {
			d.Key = *key
		}
		return d
	}
}

// Format returns the canonical text of d, the line ParseDirective reads
// back into the same directive. Positions are not part of the text.
func Format(d Directive) string {
	var b strings.Builder
	b.WriteString(Prefix)
	table := func(t *Ident) {
		if t != nil {
			b.WriteString(" table=" + t.Name)
		}
	}
	switch d := d.(type) {
	case *Database:
		b.WriteString("database " + d.Name.Name)
	case *Group:
		fmt.Fprintf(&b, "group %s shards=%d", d.Name.Name, d.Shards)
	case *Default:
		b.WriteString("default")
		table(d.Table)
	case *Partition:
		b.WriteString("partition " + d.Database.Name)
		table(d.Table)
	case *Shard:
		b.WriteString("shard " + d.Group.Name + " key=" + d.Key.Name)
		table(d.Table)
	case *Cache:
		b.WriteString("cache ttl=" + d.TTL.String())
	}
	return b.String()
}
