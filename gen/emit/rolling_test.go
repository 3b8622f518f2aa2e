package emit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardgen/shardgen/gen/ddl"
	"github.com/shardgen/shardgen/gen/diag"
	"github.com/shardgen/shardgen/gen/model"
	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// Environment of a child process of TestRollingDeployAgainstPostgreSQL.
const (
	envRollingRole = "SHARDGEN_TEST_ROLLING_ROLE" // v1 (serves), v1restart (migrates v1, then serves), v2 (migrates v2, then serves)
	envRollingURLs = "SHARDGEN_TEST_ROLLING_URLS"
)

// ordersV1 is version 1 of an app: orders sharded by customer, with a note
// and a legacy column.
func ordersV1() *model.Package {
	shop := &model.Group{Name: "shop", Shards: 16, Key: typ(model.Int64, int64Ident)}
	p := &model.Package{Path: "example.com/shop", Name: "shop", Groups: []*model.Group{shop}}
	m := &model.Model{GoName: "Order", Table: "orders", Placement: model.InGroup, Group: shop}
	m.PK = field("ID", "id", typ(model.Int64, int64Ident))
	m.PK.PK = true
	m.ShardKey = field("CustomerID", "customer_id", typ(model.Int64, int64Ident))
	m.Fields = []*model.Field{m.PK, m.ShardKey, field("Total", "total", typ(model.Int64, int64Ident)),
		field("Note", "note", typ(model.String, stringIdent)), field("Legacy", "legacy", typ(model.String, stringIdent))}
	p.Models, shop.Models = []*model.Model{m}, []*model.Model{m}
	return p
}

// ordersV2 is version 2: Note renamed to Remark keeping its column
// (db:"note"), Legacy removed, Extra added; the generator has version 1's
// schema file, so legacy becomes an orphan with a default.
func ordersV2(t testing.TB) *model.Package {
	v1 := ordersV1()
	prev, err := ddl.Targets(v1)
	if err != nil {
		t.Fatal(err)
	}
	prevFile, err := ddl.SchemaFile(v1, prev)
	if err != nil {
		t.Fatal(err)
	}
	p := ordersV1()
	m := p.Models[0]
	m.Fields = []*model.Field{m.PK, m.ShardKey, m.Fields[2],
		field("Remark", "note", typ(model.String, stringIdent)), field("Extra", "extra", typ(model.String, stringIdent))}
	var diags diag.List
	ddl.Evolve(p, prevFile, &diags)
	if len(m.Orphans) != 1 || m.Orphans[0].Column != "legacy" {
		t.Fatalf("orphans %+v, want legacy", m.Orphans)
	}
	return p
}

// rollingSpec is the Spec each version's generated code carries.
func rollingSpec(t testing.TB, p *model.Package) runtime.Spec {
	targets, err := ddl.Targets(p)
	if err != nil {
		t.Fatal(err)
	}
	return specOf(targets)
}

// rollingApp is one version's data access, as its generated repository
// does it: inserts and reads name exactly the model's columns.
type rollingApp struct {
	g      *runtime.Group
	insert *runtime.Query
	get    *runtime.Query
	latest *runtime.Query
	n      int // non-key columns
}

func newRollingApp(r *runtime.Router, m *model.Model) *rollingApp {
	g, _ := r.Group(m.Group.Name)
	var cols, params []string
	for _, f := range m.Fields {
		if f != m.PK {
			cols = append(cols, ddl.QuoteIdent(f.Column))
			params = append(params, fmt.Sprintf("$%d", len(cols)))
		}
	}
	all := "id, " + strings.Join(cols, ", ")
	return &rollingApp{g: g, n: len(cols),
		insert: g.Prepare("INSERT INTO @schema@.orders (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(params, ", ") + ") RETURNING id"),
		get:    g.Prepare("SELECT " + all + " FROM @schema@.orders WHERE id = $1"),
		latest: g.Prepare("SELECT " + all + " FROM @schema@.orders ORDER BY id DESC LIMIT 1"),
	}
}

// once inserts a row, reads it back, and reads the shard's newest row
// (possibly the other version's), scanning each column into its Go type.
func (a *rollingApp) once(ctx context.Context, customer int64) error {
	s := runtime.Shard(customer % 16)
	args := []any{customer}
	for i := 1; i < a.n; i++ {
		if i == 1 {
			args = append(args, customer*10)
		} else {
			args = append(args, fmt.Sprintf("v%d", i))
		}
	}
	var id int64
	if err := a.g.At(s).QueryRow(ctx, a.insert, args...).Scan(&id); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	scan := func(q *runtime.Query, arg ...any) error {
		dest := []any{new(int64), new(int64), new(int64)}
		for i := 2; i < a.n; i++ {
			dest = append(dest, new(string))
		}
		return a.g.At(s).QueryRow(ctx, q, arg...).Scan(dest...)
	}
	if err := scan(a.get, id); err != nil {
		return fmt.Errorf("read own row: %w", err)
	}
	if err := scan(a.latest); err != nil {
		return fmt.Errorf("read newest row: %w", err)
	}
	return nil
}

// rollingChild runs one version until stdin closes, then prints
// "ops <n> failed <m>" and the first failures.
func rollingChild(t *testing.T, role string) {
	urls := strings.Fields(os.Getenv(envRollingURLs))
	p := ordersV1()
	if role == "v2" {
		p = ordersV2(t)
	}
	spec := rollingSpec(t, p)
	cfg := runtime.Config{Groups: map[string][]runtime.ServerConfig{"shop": {
		{Name: "a", URL: urls[0], Shards: "0-7"}, {Name: "b", URL: urls[1], Shards: "8-15"},
	}}, Pool: runtime.PoolConfig{MaxConns: 4, AcquireTimeout: 10 * time.Second}}
	ctx := context.Background()
	r, err := runtime.Open(ctx, cfg, spec)
	if err != nil {
		fmt.Println("fatal", err)
		os.Exit(2)
	}
	switch role {
	case "v2":
		if err := runtime.Migrate(ctx, r, spec, runtime.MigrateOptions{}); err != nil {
			fmt.Println("fatal migrate", err)
			os.Exit(2)
		}
	case "v1restart":
		// A replica of the previous version restarting mid-deploy.
		var newer *runtime.SchemaNewerError
		if err := runtime.Migrate(ctx, r, spec, runtime.MigrateOptions{}); !errors.As(err, &newer) {
			fmt.Println("fatal migrate: want *SchemaNewerError, got", err)
			os.Exit(2)
		}
	}
	app := newRollingApp(r, p.Models[0])
	stop := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stop) }()
	fmt.Println("ready")
	ops, failed := 0, 0
	var first []string
	for customer := int64(1); ; customer++ {
		select {
		case <-stop:
			fmt.Printf("ops %d failed %d\n", ops, failed)
			for _, f := range first {
				fmt.Println("failure", f)
			}
			os.Exit(0)
		default:
		}
		ops++
		if err := app.once(ctx, customer); err != nil {
			failed++
			if len(first) < 5 {
				first = append(first, err.Error())
			}
		}
	}
}

type rollingProc struct {
	role  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startRolling(t *testing.T, role string, urls []string) *rollingProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRollingDeployAgainstPostgreSQL$", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), envRollingRole+"="+role, envRollingURLs+"="+strings.Join(urls, " "))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p := &rollingProc{role: role, cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if !p.out.Scan() || p.out.Text() != "ready" {
		t.Fatalf("%s did not get ready: %q", role, p.out.Text())
	}
	return p
}

// finish stops the process and returns its operation count, failing the
// test on any failed operation.
func (p *rollingProc) finish(t *testing.T) int {
	t.Helper()
	_ = p.stdin.Close()
	var lines []string
	for p.out.Scan() {
		lines = append(lines, p.out.Text())
	}
	err := p.cmd.Wait()
	var ops, failed int
	if len(lines) == 0 {
		t.Errorf("%s: no report (%v)", p.role, err)
		return 0
	}
	if _, serr := fmt.Sscanf(lines[0], "ops %d failed %d", &ops, &failed); serr != nil || err != nil || failed != 0 || ops == 0 {
		t.Errorf("%s: %v: %s", p.role, err, strings.Join(lines, "\n"))
	}
	return ops
}

// TestRollingDeployAgainstPostgreSQL deploys version 2 of an app (a field
// added, one removed, one renamed with db:) while version 1 runs, each
// version in its own OS process inserting and reading continuously: version
// 2 migrates and serves, a version 1 replica restarts and migrates (an
// older Spec: nothing changes), and no operation of either version fails.
func TestRollingDeployAgainstPostgreSQL(t *testing.T) {
	if role := os.Getenv(envRollingRole); role != "" {
		rollingChild(t, role)
		return
	}
	_, urls := pgtest.NewDatabase(t, 2, "shop")
	ctx := context.Background()
	spec := rollingSpec(t, ordersV1())
	cfg := runtime.Config{Groups: map[string][]runtime.ServerConfig{"shop": {
		{Name: "a", URL: urls[0], Shards: "0-7"}, {Name: "b", URL: urls[1], Shards: "8-15"},
	}}, Pool: runtime.PoolConfig{MaxConns: 4, AcquireTimeout: 10 * time.Second}}
	r, err := runtime.Open(ctx, cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := runtime.Migrate(ctx, r, spec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}

	v1 := startRolling(t, "v1", urls)
	time.Sleep(500 * time.Millisecond)
	v2 := startRolling(t, "v2", urls) // ready = migrated
	time.Sleep(time.Second)
	restarted := startRolling(t, "v1restart", urls)
	time.Sleep(time.Second)
	var wg sync.WaitGroup
	ops := map[string]int{}
	var mu sync.Mutex
	for _, p := range []*rollingProc{v1, v2, restarted} {
		wg.Go(func() {
			n := p.finish(t)
			mu.Lock()
			ops[p.role] = n
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("operations without a failure: %v", ops)

	// Version 2's rows carry the renamed field in the old column; version
	// 1's rows read the new column's zero value.
	g, _ := r.Group("shop")
	var n int
	if err := g.At(3).QueryRow(ctx, g.Prepare("SELECT count(*) FROM @schema@.orders WHERE extra = '' AND legacy <> ''")).Scan(&n); err != nil || n == 0 {
		t.Errorf("version 1 rows after the change: %d, %v", n, err)
	}
	if err := g.At(3).QueryRow(ctx, g.Prepare("SELECT count(*) FROM @schema@.orders WHERE extra <> '' AND legacy = '' AND note <> ''")).Scan(&n); err != nil || n == 0 {
		t.Errorf("version 2 rows: %d, %v", n, err)
	}
}
