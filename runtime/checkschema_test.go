package runtime

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/shardgen/shardgen/runtime/pgtest"
)

// postsGenerated is a group schema in the shape shardgen generates.
const postsGenerated = `CREATE TABLE IF NOT EXISTS @schema@."posts" (
    "id" bigint NOT NULL DEFAULT @schema@.shardgen_next_id(),
    "author_id" bigint NOT NULL,
    "title" text NOT NULL,
    CONSTRAINT "posts_pkey" PRIMARY KEY ("id")
);
ALTER TABLE @schema@."posts"
    ADD COLUMN IF NOT EXISTS "title" text NOT NULL DEFAULT '';`

func checkSpec(sql string) Spec {
	return Spec{Groups: []GroupSpec{{Name: "blog", Shards: 4, Migrations: []Migration{{Version: 1, Name: "schema", SQL: sql, Declarative: true}}}}}
}

// TestCheckSchema: not migrated, fit, newer, and a schema changed by hand
// (a missing column, an orphaned NOT NULL column), each reported for exactly
// its shards, and nothing changed by the check.
func TestCheckSchema(t *testing.T) {
	_, urls := pgtest.NewDatabase(t, 1, "app")
	ctx := context.Background()
	v1 := checkSpec(postsGenerated)
	cfg := splitConfig("blog", 4, urls, PoolConfig{MaxConns: 4})
	r, err := Open(ctx, cfg, v1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	err = CheckSchema(ctx, r, v1)
	var ce *SchemaCheckError
	if !errors.As(err, &ce) || !errors.Is(err, ErrNotMigrated) || len(ce.Problems) != 4 {
		t.Fatalf("before Migrate: %v, want ErrNotMigrated on 4 shards", err)
	}
	if err := CheckSchema(ctx, r, v1); !errors.As(err, &ce) {
		t.Fatalf("the check changed something: %v", err)
	}
	if err := Migrate(ctx, r, v1, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := CheckSchema(ctx, r, v1); err != nil {
		t.Fatalf("after Migrate: %v", err)
	}

	v2 := checkSpec(postsGenerated + "\nALTER TABLE @schema@.\"posts\"\n    ADD COLUMN IF NOT EXISTS \"body\" text NOT NULL DEFAULT '';")
	if err := CheckSchema(ctx, r, v2); !errors.Is(err, ErrNotMigrated) {
		t.Errorf("v2 before its Migrate: %v, want ErrNotMigrated", err)
	}
	if err := Migrate(ctx, r, v2, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	var newer *SchemaNewerError
	if err := CheckSchema(ctx, r, v1); !errors.As(err, &newer) {
		t.Errorf("v1 after v2 migrated: %v, want *SchemaNewerError", err)
	}

	g, _ := r.Group("blog")
	if _, err := g.At(1).Exec(ctx, g.Prepare(`ALTER TABLE @schema@.posts DROP COLUMN title`)); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{`ALTER TABLE @schema@.posts ADD COLUMN legacy text NOT NULL DEFAULT 'x'`, `ALTER TABLE @schema@.posts ALTER COLUMN legacy DROP DEFAULT`} {
		if _, err := g.At(2).Exec(ctx, g.Prepare(sql)); err != nil {
			t.Fatal(err)
		}
	}
	err = CheckSchema(ctx, r, v2)
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("hand-changed shards: %v, want problems on shards 1 and 2", err)
	}
	if f := ce.Problems[0]; f.Shard != 1 || !errors.Is(f, ErrNotMigrated) {
		t.Errorf("shard 1: %v, want the missing column", f)
	}
	if f := ce.Problems[1]; f.Shard != 2 || !errors.Is(f, ErrOrphanNotNull) {
		t.Errorf("shard 2: %v, want the orphaned NOT NULL column", f)
	}
	if got := []Shard{ce.Problems[0].Shard, ce.Problems[1].Shard}; !slices.Equal(got, []Shard{1, 2}) {
		t.Errorf("shards %v", got)
	}
	t.Logf("%v", err)
}
