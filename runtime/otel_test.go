package runtime

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// shardSpans wraps otelpgx's tracer: its spans for each statement, its
// preparation and the wait for a connection also say the group (or
// database), logical shard, schema and server the runtime ran it on. This
// is what an application writes to trace the runtime with OpenTelemetry;
// OpenTelemetry stays out of the runtime (and of the binaries of
// applications that do not set a tracer), being a dependency of this test
// only.
type shardSpans struct{ *otelpgx.Tracer }

func (s shardSpans) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return label(s.Tracer.TraceQueryStart(ctx, c, d))
}

func (s shardSpans) TracePrepareStart(ctx context.Context, c *pgx.Conn, d pgx.TracePrepareStartData) context.Context {
	return label(s.Tracer.TracePrepareStart(ctx, c, d))
}

func (s shardSpans) TraceAcquireStart(ctx context.Context, p *pgxpool.Pool, d pgxpool.TraceAcquireStartData) context.Context {
	return label(s.Tracer.TraceAcquireStart(ctx, p, d))
}

// label puts the runtime's target of ctx on ctx's span.
func label(ctx context.Context) context.Context {
	if t, ok := TargetFromContext(ctx); ok {
		trace.SpanFromContext(ctx).SetAttributes(
			attribute.String("shardgen.group", t.Group()),
			attribute.String("shardgen.database", t.Database()),
			attribute.Int("shardgen.shard", int(t.Shard())),
			attribute.String("shardgen.schema", t.Schema()),
			attribute.String("shardgen.server", t.Server().Name()),
		)
	}
	return ctx
}

// testOpenTelemetrySpans (TestHooks/OpenTelemetrySpans) sets otelpgx through Config.ConfigurePool on every
// server and checks, in an in-memory exporter, that each statement's span
// names the group, shard and server it ran on (a shard of each server, a
// transaction, the default database) and that a failed statement's span
// records the server's error, with its shard.
func testOpenTelemetrySpans(t *testing.T, f *pgFixture) {
	ctx := context.Background()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(ctx)

	cfg := f.config(PoolConfig{})
	cfg.ConfigurePool = func(pi PoolInfo, pc *pgxpool.Config) error {
		pc.ConnConfig.Tracer = shardSpans{otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithTrimSQLInSpanName())}
		return nil
	}
	r, err := Open(ctx, cfg, f.spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	g := mustGroup(t, r)

	// otelpgx records spans under a recording parent, as in a traced
	// request handler.
	ctx, req := tp.Tracer("test").Start(ctx, "request")
	q := g.Prepare("SELECT shard FROM @schema@.kv WHERE k = -1")
	var got int
	if err := g.At(3).QueryRow(ctx, q).Scan(&got); err != nil || got != 3 {
		t.Fatalf("shard 3: %d, %v", got, err)
	}
	if err := g.At(12).InTx(ctx, func(tx *Tx) error { return tx.QueryRow(ctx, q).Scan(&got) }); err != nil || got != 12 {
		t.Fatalf("shard 12 in a tx: %d, %v", got, err)
	}
	db, _ := r.Database("default")
	if _, err := db.Target().Exec(ctx, db.Prepare("SELECT 1 FROM @schema@.notes")); err != nil {
		t.Fatal(err)
	}
	if _, err := g.At(9).Exec(ctx, g.Prepare("SELECT 1 FROM @schema@.missing")); err == nil {
		t.Fatal("a statement on a missing table succeeded")
	}
	req.End()

	type labels struct {
		group, database, schema, server string
		shard                           int64
	}
	spans := map[string][]labels{} // SQL text -> labels of its spans
	var failed, acquired []labels  // statements failed; waits for a connection
	for _, s := range exp.GetSpans() {
		if s.Name == "request" || s.Name == "connect" {
			// pgxpool dials in the background, for the pool, not for
			// one call: otelpgx's connect spans have no parent.
			continue
		}
		if s.SpanContext.TraceID() != req.SpanContext().TraceID() {
			t.Errorf("span %q is not in the request's trace", s.Name)
		}
		var l labels
		var sql string
		for _, a := range s.Attributes {
			switch a.Key {
			case "shardgen.group":
				l.group = a.Value.AsString()
			case "shardgen.database":
				l.database = a.Value.AsString()
			case "shardgen.schema":
				l.schema = a.Value.AsString()
			case "shardgen.server":
				l.server = a.Value.AsString()
			case "shardgen.shard":
				l.shard = a.Value.AsInt64()
			case "db.query.text":
				sql = a.Value.AsString()
			}
		}
		if l.server == "" {
			t.Errorf("span %q (%s) has no shardgen labels: %v", s.Name, sql, s.Attributes)
			continue
		}
		switch {
		case s.Name == "pool.acquire":
			acquired = append(acquired, l)
		case strings.HasPrefix(s.Name, "query "):
			spans[sql] = append(spans[sql], l)
		}
		if s.Status.Code.String() == "Error" {
			failed = append(failed, l)
		}
	}
	want := map[string][]labels{
		`SELECT shard FROM "blog_0003".kv WHERE k = -1`: {{group: "blog", schema: `"blog_0003"`, server: "a", shard: 3}},
		`SELECT shard FROM "blog_0012".kv WHERE k = -1`: {{group: "blog", schema: `"blog_0012"`, server: "b", shard: 12}},
		`SELECT 1 FROM "public".notes`:                  {{database: "default", schema: `"public"`, server: "default", shard: -1}},
		`SELECT 1 FROM "blog_0009".missing`:             {{group: "blog", schema: `"blog_0009"`, server: "b", shard: 9}},
	}
	for sql, w := range want {
		if g := spans[sql]; len(g) != 1 || g[0] != w[0] {
			t.Errorf("spans of %s: %+v, want %+v", sql, g, w)
		}
	}
	// The transaction's BEGIN and COMMIT are the shard's statements too.
	for _, stmt := range []string{"begin", "commit"} {
		found := false
		for sql, ls := range spans {
			if strings.EqualFold(strings.TrimSpace(sql), stmt) {
				for _, l := range ls {
					found = found || (l.shard == 12 && l.server == "b")
				}
			}
		}
		if !found {
			t.Errorf("no %s span on shard 12 of server b: %v", stmt, spans)
		}
	}
	// The wait for a connection is labelled too (a pool timeout's span
	// says whose server was busy).
	if !slices.Contains(acquired, labels{group: "blog", schema: `"blog_0003"`, server: "a", shard: 3}) {
		t.Errorf("no pool.acquire span for shard 3: %+v", acquired)
	}
	if len(failed) != 1 || failed[0].shard != 9 {
		t.Errorf("failed spans: %+v, want the one of shard 9", failed)
	}
}
