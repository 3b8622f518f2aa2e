package query

import (
	"go/token"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
)

// source is one named query as written in a .sql file.
type source struct {
	name string
	cmd  model.QueryCmd
	// pos is where "-- name:" starts.
	pos token.Position
	doc []string
	// fanOut is set by "-- shardgen:fanout".
	fanOut    bool
	fanOutPos token.Position
	// text is the statement that follows the header comments, and
	// offset/line/col where it starts in the file, so that a position
	// inside it maps back to the file.
	text   string
	offset int
	file   string
	src    []byte
}

// position maps a byte offset of s.text to a position in the file.
func (s *source) position(off int) token.Position {
	return offsetPosition(s.file, s.src, s.offset+off)
}

// offsetPosition converts a byte offset of src into a 1-based line and
// column (in bytes, as go/token counts).
func offsetPosition(file string, src []byte, off int) token.Position {
	off = max(0, min(off, len(src)))
	line, col := 1, 1
	for i := 0; i < off; i++ {
		if src[i] == '\n' {
			line++
			col = 1
			continue
		}
		col++
	}
	return token.Position{Filename: file, Offset: off, Line: line, Column: col}
}

// namePrefix starts the comment that names a query, as sqlc has it.
const namePrefix = "-- name:"

// directivePrefix starts a shardgen directive inside a .sql file.
const directivePrefix = "-- shardgen:"

// split cuts a .sql file into its named queries, the way sqlc reads it: a
// query starts at a "-- name: Name :cmd" line and runs until the next one.
// Comment lines right after the name line are the query's documentation,
// and "-- shardgen:..." lines among them are directives. Problems are
// reported to diags; a query with a bad header is left out.
func split(file string, src []byte, diags *diag.List) []*source {
	var out []*source
	var cur *source
	// inHeader: between a name line and its SQL; badName: after a
	// malformed name line (its SQL is not reported again); orphan: SQL
	// outside any query was reported (once per file).
	inHeader, badName, orphan := false, false, false
	off := 0
	text := string(src)
	flush := func(end int) {
		if cur == nil {
			return
		}
		cur.text = text[cur.offset:end]
		if strings.TrimSpace(cur.text) == "" {
			diags.Errorf(cur.pos, "query %s has no SQL statement after its name line", cur.name)
		} else {
			out = append(out, cur)
		}
		cur = nil
	}
	for off < len(text) {
		end := strings.IndexByte(text[off:], '\n')
		next := len(text)
		if end >= 0 {
			next = off + end + 1
		} else {
			end = len(text) - off
		}
		line := text[off : off+end]
		trimmed := strings.TrimSpace(line)
		lead := len(line) - len(strings.TrimLeft(line, " \t"))
		pos := offsetPosition(file, src, off+lead)
		switch {
		case strings.HasPrefix(trimmed, namePrefix):
			flush(off)
			cur = parseName(file, src, trimmed, pos, diags)
			badName = cur == nil
			if cur != nil {
				cur.offset = next
			}
			inHeader = true
		case inHeader && strings.HasPrefix(trimmed, "--"):
			if cur != nil {
				cur.offset = next
				headerLine(cur, trimmed, pos, diags)
			}
		case trimmed == "":
			if cur != nil && inHeader {
				cur.offset = next
			}
		default:
			inHeader = false
			if cur == nil && !badName && !orphan && !strings.HasPrefix(trimmed, "--") {
				diags.Errorf(pos, "SQL outside a named query: every query starts with a name line (-- name: GetPost :one)")
				orphan = true
			}
		}
		off = next
	}
	flush(len(text))
	return out
}

// parseName reads "-- name: Name :cmd".
func parseName(file string, src []byte, line string, pos token.Position, diags *diag.List) *source {
	fields := strings.Fields(strings.TrimPrefix(line, namePrefix))
	if len(fields) != 2 {
		diags.Errorf(pos, "malformed query name line %q: want \"-- name: GetPost :one\" (:one, :many, :exec or :execrows)", line)
		return nil
	}
	name, cmd := fields[0], model.QueryCmd(fields[1])
	ok := true
	if !isExportedIdent(name) {
		diags.Errorf(pos, "query name %q must be an exported Go identifier (GetPost): it names the generated method", name)
		ok = false
	}
	switch cmd {
	case model.CmdOne, model.CmdMany, model.CmdExec, model.CmdExecRows:
	default:
		diags.Errorf(pos, "query %s: unsupported command %s: shardgen supports :one, :many, :exec and :execrows", name, cmd)
		ok = false
	}
	if !ok {
		return nil
	}
	return &source{name: name, cmd: cmd, pos: pos, file: file, src: src}
}

// headerLine handles a comment line between the name line and the SQL.
func headerLine(cur *source, line string, pos token.Position, diags *diag.List) {
	if rest, ok := strings.CutPrefix(line, directivePrefix); ok {
		switch strings.TrimSpace(rest) {
		case "fanout":
			if cur.fanOut {
				diags.Errorf(pos, "query %s: duplicate -- shardgen:fanout", cur.name)
			}
			cur.fanOut = true
			cur.fanOutPos = pos
		default:
			diags.Errorf(pos, "query %s: unknown directive %q: the only query directive is -- shardgen:fanout", cur.name, line)
		}
		return
	}
	if looksLikeDirective(line) {
		diags.Warnf(pos, "query %s: %q looks like a shardgen directive but is not one; write -- shardgen:fanout", cur.name, line)
	}
	cur.doc = append(cur.doc, strings.TrimSpace(strings.TrimPrefix(line, "--")))
}

// looksLikeDirective catches near misses such as "--shardgen:fanout" or
// "-- shardgen fanout", which would otherwise be silently taken as
// documentation.
func looksLikeDirective(line string) bool {
	rest := strings.TrimSpace(strings.TrimPrefix(line, "--"))
	return strings.HasPrefix(strings.ToLower(rest), "shardgen")
}

func isExportedIdent(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsUpper(r) {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' {
			return false
		}
	}
	return !token.IsKeyword(s)
}
