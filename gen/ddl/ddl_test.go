package ddl

import (
	"strings"
	"testing"

	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime/shardredis"
)

func TestObjectNameFitsPostgreSQL(t *testing.T) {
	short := objectName("posts", []string{"author_id", "id"}, "key")
	if short != "posts_author_id_id_key" {
		t.Errorf("objectName = %q", short)
	}
	long1 := objectName(strings.Repeat("t", 40), []string{strings.Repeat("a", 30), "id"}, "key")
	long2 := objectName(strings.Repeat("t", 40), []string{strings.Repeat("a", 30), "idx"}, "key")
	if len(long1) > model.MaxIdentifier || len(long2) > model.MaxIdentifier || long1 == long2 {
		t.Errorf("long names: %q (%d), %q (%d)", long1, len(long1), long2, len(long2))
	}
	if !strings.HasSuffix(long1, "_key") {
		t.Errorf("shortened name lost its suffix: %q", long1)
	}
}

func TestSQLTypeCoversEveryKind(t *testing.T) {
	for k := model.Int16; k <= model.Numeric; k++ {
		if _, err := sqlType(&model.Type{Kind: k}); err != nil {
			t.Errorf("kind %v: %v", k, err)
		}
	}
	if _, err := sqlType(&model.Type{Kind: 0}); err == nil {
		t.Error("kind 0 has a SQL type")
	}
}

// The generator writes runtime/shardredis's flush-record table without
// linking it: the names must agree.
func TestFlushesTableIsShardredis(t *testing.T) {
	if FlushesTable != shardredis.FlushesTable {
		t.Fatalf("ddl.FlushesTable = %q, shardredis.FlushesTable = %q", FlushesTable, shardredis.FlushesTable)
	}
}
