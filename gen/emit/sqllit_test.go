package emit

import (
	"fmt"
	"go/constant"
	"go/parser"
	"go/token"
	"testing"
)

// TestSQLLitRoundTrips checks that every SQL text, including ones a raw
// literal cannot hold, comes back unchanged from the Go literal emitted.
func TestSQLLitRoundTrips(t *testing.T) {
	for _, sql := range []string{
		"CREATE TABLE IF NOT EXISTS @schema@.\"posts\" (\n  \"id\" bigint\n);\n",
		"SELECT 1",
		"COMMENT ON TABLE x IS 'a `quoted` word';\n",
		"line one\r\nline two\n",
		"",
	} {
		src := fmt.Sprintf("%#v", sqlLit(sql))
		if _, err := parser.ParseExpr(src); err != nil {
			t.Fatalf("sqlLit(%q) = %s: not a Go expression: %v", sql, src, err)
		}
		got := constant.StringVal(constant.MakeFromLiteral(src, token.STRING, 0))
		if got != sql {
			t.Errorf("sqlLit(%q) = %s, which reads back as %q", sql, src, got)
		}
	}
}
