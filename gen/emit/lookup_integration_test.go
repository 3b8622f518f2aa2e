package emit

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardgen/shardgen/internal/testmod"
	"golang.org/x/tools/txtar"
)

// TestGlobalUniqueAgainstPostgreSQL runs the generated code of the golden
// case global_unique (models.go and want/*, exactly what `make golden`
// pins) against two throwaway PostgreSQL servers holding the 8 shards of
// group accounts, 4 and 4: global uniqueness under 16 concurrent inserters,
// a process killed between the lookup write and the owner write, updates
// and deletes racing readers, transactions, Sweep and Check, and per-shard
// unique beside global.
func TestGlobalUniqueAgainstPostgreSQL(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	ar, err := txtar.ParseFile(filepath.Join(testmod.Root(t), "testdata", "golden", "global_unique.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range ar.Files {
		name := strings.TrimPrefix(f.Name, "want/")
		if strings.HasSuffix(name, ".go") {
			files[name] = f.Data
		}
	}
	files["lookup_test.go"] = []byte(lookupProgram)
	dir := testmod.New(t, files)
	cmd := exec.Command("go", "test", "-count=1", "-v", "-timeout=8m", "./...")
	cmd.Dir = dir
	cmd.Env = testmod.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("global unique lookups against PostgreSQL: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

const lookupProgram = `package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardgen/shardgen/runtime"
	"github.com/shardgen/shardgen/runtime/lookup"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

func config(urls []string) runtime.Config {
	return runtime.Config{
		Groups: map[string][]runtime.ServerConfig{
			"accounts": {{Name: "a", URL: urls[0], Shards: "0-3"}, {Name: "b", URL: urls[1], Shards: "4-7"}},
		},
		Pool: runtime.PoolConfig{MaxConns: 64},
	}
}

func openURLs(t *testing.T, urls []string) (*DB, *runtime.Router) {
	t.Helper()
	ctx := context.Background()
	r, err := runtime.Open(ctx, config(urls), Spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	db, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	return db, r
}

func open(t *testing.T) (*DB, *runtime.Router, []string) {
	t.Helper()
	_, urls := pgtest.NewDatabase(t, 2, "app")
	db, r := openURLs(t, urls)
	if err := runtime.Migrate(context.Background(), r, Spec, runtime.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	return db, r, urls
}

// lookupRows counts the rows of a lookup table over every shard.
func lookupRows(t *testing.T, r *runtime.Router, table string) int64 {
	t.Helper()
	g, err := r.Group("accounts")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var mu sync.Mutex
	err = g.FanOut(context.Background(), g.Prepare("SELECT count(*) FROM @schema@."+table), nil, func(_ runtime.Shard, rows pgx.Rows) error {
		for rows.Next() {
			var n int64
			if err := rows.Scan(&n); err != nil {
				return err
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func isDup(err error, field string) bool {
	var dup *lookup.DuplicateError
	return errors.Is(err, lookup.ErrDuplicate) && errors.As(err, &dup) && dup.Field == field && dup.Model == "app.Account"
}

// tenants returns n tenant keys, the first two on different shards (and
// servers), the third on the first one's shard.
func tenants(t *testing.T, r *runtime.Router) (a, b, sameAsA AccountsKey) {
	g, _ := r.Group("accounts")
	a = 1
	for k := AccountsKey(2); ; k++ {
		sa, sk := g.ShardOfInt64(int64(a)), g.ShardOfInt64(int64(k))
		if b == 0 && sk/4 != sa/4 {
			b = k
		}
		if sameAsA == 0 && sk == sa {
			sameAsA = k
		}
		if b != 0 && sameAsA != 0 {
			return
		}
	}
}

type reporter struct{ t *testing.T }

// report logs the reports of SweepLookups or CheckLookups and sums them.
func (r reporter) report(reps []lookup.Report, err error) (orphans, missing int64) {
	t := r.t
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range reps {
		t.Logf("%v", rep)
		orphans += rep.Orphans
		missing += rep.Missing
	}
	return orphans, missing
}

func TestGlobalAndPerShardUnique(t *testing.T) {
	db, r, _ := open(t)
	ctx := context.Background()
	a, b, same := tenants(t, r)

	ann := &Account{TenantID: int64(a), Email: "Ann@Example.org", Handle: 1, Number: "n1", Name: "Ann"}
	if _, err := db.Accounts.Insert(ctx, ann); err != nil {
		t.Fatal(err)
	}
	// Found without the shard key, case folded.
	got, err := db.Accounts.GetByEmail(ctx, "ann@EXAMPLE.org")
	if err != nil || got.ID != ann.ID || got.Email != "Ann@Example.org" {
		t.Fatalf("GetByEmail = %+v, %v", got, err)
	}
	if got, err := db.Accounts.GetByHandle(ctx, 1); err != nil || got.ID != ann.ID {
		t.Fatalf("GetByHandle = %+v, %v", got, err)
	}
	if _, err := db.Accounts.GetByEmail(ctx, "nobody@example.org"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetByEmail of no one: %v, want ErrNotFound", err)
	}
	// Another tenant, on another server: the same email (in another case)
	// or handle is a typed duplicate.
	if _, err := db.Accounts.Insert(ctx, &Account{TenantID: int64(b), Email: "ANN@example.org", Handle: 2, Number: "x"}); !isDup(err, "Email") {
		t.Errorf("duplicate email on another shard: %v, want a *lookup.DuplicateError for Email", err)
	}
	if _, err := db.Accounts.Insert(ctx, &Account{TenantID: int64(b), Email: "other@example.org", Handle: 1, Number: "x"}); !isDup(err, "Handle") {
		t.Errorf("duplicate handle on another shard: %v, want a *lookup.DuplicateError for Handle", err)
	}
	// The failed inserts left no lookup rows behind and no rows.
	if n := lookupRows(t, r, "accounts_email_lookup"); n != 1 {
		t.Errorf("%d email lookup rows after the duplicates, want 1", n)
	}
	if n, err := db.Accounts.CountAllShards(ctx); err != nil || n != 1 {
		t.Errorf("CountAllShards = %d, %v, want 1", n, err)
	}

	// Per-shard unique keeps its meaning: Number is unique within a shard,
	// so another shard may repeat it and the same shard may not; GetByNumber
	// takes the key.
	bob := &Account{TenantID: int64(b), Email: "bob@example.org", Handle: 2, Number: "n1"}
	if _, err := db.Accounts.Insert(ctx, bob); err != nil {
		t.Fatalf("per-shard unique Number on another shard: %v", err)
	}
	var pgErr *pgconn.PgError
	if _, err := db.Accounts.Insert(ctx, &Account{TenantID: int64(same), Email: "cy@example.org", Handle: 3, Number: "n1"}); !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Errorf("per-shard unique Number on the same shard: %v, want a unique violation", err)
	}
	if got, err := db.Accounts.GetByNumber(ctx, b, "n1"); err != nil || got.ID != bob.ID {
		t.Errorf("GetByNumber = %+v, %v", got, err)
	}
	// The insert that failed on the owner row released its claims.
	if _, err := db.Accounts.GetByEmail(ctx, "cy@example.org"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetByEmail after a failed insert: %v, want ErrNotFound", err)
	}
	if n := lookupRows(t, r, "accounts_email_lookup"); n != 2 {
		t.Errorf("%d email lookup rows, want 2", n)
	}

	// Changing the value: the new one is claimed, the old one released
	// and free for another row; a taken one is a duplicate.
	ann.Email = "ann2@example.org"
	if err := db.Accounts.Update(ctx, ann); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Accounts.GetByEmail(ctx, "ann@example.org"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetByEmail of the old value: %v, want ErrNotFound", err)
	}
	if got, err := db.Accounts.GetByEmail(ctx, "ANN2@example.org"); err != nil || got.ID != ann.ID {
		t.Errorf("GetByEmail of the new value = %+v, %v", got, err)
	}
	ann.Email = "Bob@example.org"
	if err := db.Accounts.Update(ctx, ann); !isDup(err, "Email") {
		t.Errorf("Update to a taken email: %v, want a duplicate", err)
	}
	ann.Email = "ann2@example.org"
	if _, err := db.Accounts.Insert(ctx, &Account{TenantID: int64(b), Email: "ann@example.org", Handle: 9, Number: "n9"}); err != nil {
		t.Errorf("Insert of a released value: %v", err)
	}
	if o, m := (reporter{t}).report(db.Accounts.CheckLookups(ctx)); o != 0 || m != 0 {
		t.Errorf("CheckLookups: %d orphans, %d missing, want none", o, m)
	}

	// Delete releases.
	if err := db.Accounts.Delete(ctx, AccountID(bob.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Accounts.GetByEmail(ctx, "bob@example.org"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetByEmail after Delete: %v, want ErrNotFound", err)
	}
	if _, err := db.Accounts.Insert(ctx, &Account{TenantID: int64(a), Email: "bob@example.org", Handle: 2, Number: "n2"}); err != nil {
		t.Errorf("Insert of a deleted row's values: %v", err)
	}

	// A transaction on one shard: the insert's claims are committed at
	// once; a rollback leaves orphans that reads ignore, Check reports,
	// Sweep removes, and the next insert would reclaim.
	boom := errors.New("boom")
	err = db.InAccountsShard(ctx, a, func(tx *AccountsTx) error {
		if _, err := tx.Accounts().Insert(ctx, &Account{TenantID: int64(a), Email: "tx@example.org", Handle: 77, Number: "t"}); err != nil {
			return err
		}
		if _, err := tx.Accounts().Insert(ctx, &Account{TenantID: int64(a), Email: "TX@example.org", Handle: 78, Number: "t2"}); !isDup(err, "Email") {
			t.Errorf("duplicate inside the transaction: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := db.Accounts.GetByEmail(ctx, "tx@example.org"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetByEmail of a rolled-back insert: %v, want ErrNotFound", err)
	}
	if o, _ := (reporter{t}).report(db.Accounts.CheckLookups(ctx)); o != 2 {
		t.Errorf("CheckLookups after the rollback: %d orphans, want 2 (email and handle)", o)
	}
	if o, _ := (reporter{t}).report(db.Accounts.SweepLookups(ctx)); o != 2 {
		t.Errorf("SweepLookups removed %d orphans, want 2", o)
	}
	if o, m := (reporter{t}).report(db.Accounts.CheckLookups(ctx)); o != 0 || m != 0 {
		t.Errorf("CheckLookups after the sweep: %d orphans, %d missing", o, m)
	}
	// Committed: found by everyone afterwards; in the transaction, a row of
	// another shard is refused.
	err = db.InAccountsShard(ctx, b, func(tx *AccountsTx) error {
		if _, err := tx.Accounts().Insert(ctx, &Account{TenantID: int64(b), Email: "tx@example.org", Handle: 77, Number: "t"}); err != nil {
			return err
		}
		if _, err := tx.Accounts().GetByEmail(ctx, "ann2@example.org"); !errors.Is(err, runtime.ErrWrongShard) {
			t.Errorf("TxRepo.GetByEmail of another shard's row: %v, want ErrWrongShard", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.Accounts.GetByEmail(ctx, "tx@example.org"); err != nil || got.TenantID != int64(b) {
		t.Errorf("GetByEmail of a committed transaction's row = %+v, %v", got, err)
	}

	// InsertMany keeps the lookups row by row: it stops at a taken value.
	many := []*Account{
		{TenantID: int64(a), Email: "m1@example.org", Handle: 901, Number: "m1"},
		{TenantID: int64(b), Email: "m2@example.org", Handle: 902, Number: "m2"},
		{TenantID: int64(b), Email: "M1@example.org", Handle: 903, Number: "m3"},
	}
	if err := db.Accounts.InsertMany(ctx, many); !isDup(err, "Email") {
		t.Errorf("InsertMany with a taken value: %v, want a duplicate", err)
	}
	for i, row := range many[:2] {
		if got, err := db.Accounts.GetByHandle(ctx, row.Handle); err != nil || got.ID != row.ID || row.ID == 0 {
			t.Errorf("InsertMany row %d: GetByHandle = %+v, %v", i, got, err)
		}
	}
	if many[2].ID != 0 {
		t.Errorf("the refused row got ID %d", many[2].ID)
	}
}

// TestSixteenInsertersOneValue: 16 goroutines insert the same email for 16
// different tenants at once, over and over: each round exactly one wins,
// the others get the typed duplicate, and the lookup holds one row.
func TestSixteenInsertersOneValue(t *testing.T) {
	db, r, _ := open(t)
	ctx := context.Background()
	for round := range 5 {
		email := fmt.Sprintf("race%d@example.org", round)
		var wg sync.WaitGroup
		errs := make([]error, 16)
		start := make(chan struct{})
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = db.Accounts.Insert(ctx, &Account{TenantID: int64(100*round + i + 1), Email: email, Handle: int64(1000*round + i), Number: strconv.Itoa(i)})
			}()
		}
		close(start)
		wg.Wait()
		won, dup := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case isDup(err, "Email"):
				dup++
			default:
				t.Errorf("round %d: unexpected error %v", round, err)
			}
		}
		if won != 1 || dup != 15 {
			t.Errorf("round %d: %d inserts succeeded and %d were duplicates, want 1 and 15", round, won, dup)
		}
		if n := lookupRows(t, r, "accounts_email_lookup"); n != int64(round+1) {
			t.Errorf("round %d: %d email lookup rows, want %d", round, n, round+1)
		}
		if n, err := db.Accounts.CountAllShards(ctx); err != nil || n != int64(round+1) {
			t.Errorf("round %d: CountAllShards = %d, %v", round, n, err)
		}
		if _, err := db.Accounts.GetByEmail(ctx, email); err != nil {
			t.Errorf("round %d: GetByEmail: %v", round, err)
		}
	}
	// The losers' handle claims were released.
	if n := lookupRows(t, r, "accounts_handle_lookup"); n != 5 {
		t.Errorf("%d handle lookup rows, want 5", n)
	}
}

// TestCrashChild is the child process of TestCrashBetweenLookupAndOwner: it
// claims the values of a row (insert) or a new value (update), says so on
// stdout, and waits to be killed before writing the owner row.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv("LOOKUP_CRASH_MODE")
	if mode == "" {
		t.Skip("the child of TestCrashBetweenLookupAndOwner")
	}
	db, r := openURLs(t, strings.Split(os.Getenv("LOOKUP_CRASH_URLS"), " "))
	g, _ := r.Group("accounts")
	ctx := context.Background()
	block := func() { fmt.Println("CLAIMED"); select {} }
	switch mode {
	case "insert":
		_, err := lookup.Insert(ctx, g.At(g.ShardOfInt64(5)), nil, []lookup.Claim{
			{Index: db.Accounts.lookupEmail, Value: "crash@example.org"},
			{Index: db.Accounts.lookupHandle, Value: int64(500)},
		}, func(runtime.On, int64) error { block(); return nil })
		t.Fatal(err)
	case "update":
		id, _ := strconv.ParseInt(os.Getenv("LOOKUP_CRASH_ID"), 10, 64)
		shard, err := g.ShardOfID(id)
		if err != nil {
			t.Fatal(err)
		}
		err = lookup.Update(ctx, g.At(shard), nil, id, []lookup.Claim{
			{Index: db.Accounts.lookupEmail, Value: "moved@example.org"},
		}, func(runtime.On) (bool, error) { block(); return true, nil })
		t.Fatal(err)
	}
}

// crash runs TestCrashChild in a child process in mode, waits until it has
// claimed, and kills it with SIGKILL.
func crash(t *testing.T, urls []string, mode string, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), append(env, "LOOKUP_CRASH_MODE="+mode, "LOOKUP_CRASH_URLS="+strings.Join(urls, " "))...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	claimed := false
	for sc.Scan() {
		if sc.Text() == "CLAIMED" {
			claimed = true
			break
		}
		t.Logf("child: %s", sc.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if !claimed {
		t.Fatalf("the child ended before claiming: %v", err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL", err)
	}
}

// TestCrashBetweenLookupAndOwner kills a process of ours (SIGKILL) after it
// claimed lookup rows and before it wrote the owner row, once inserting and
// once updating: the value is not lost (the next insert reclaims it, at
// once, without a sweep) and GetBy never returns a row not holding it.
func TestCrashBetweenLookupAndOwner(t *testing.T) {
	db, r, urls := open(t)
	ctx := context.Background()

	crash(t, urls, "insert")
	if n := lookupRows(t, r, "accounts_email_lookup"); n != 1 {
		t.Fatalf("%d email lookup rows after the crash, want the orphan", n)
	}
	if _, err := db.Accounts.GetByEmail(ctx, "crash@example.org"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetByEmail of the crashed insert: %v, want ErrNotFound", err)
	}
	if o, _ := (reporter{t}).report(db.Accounts.CheckLookups(ctx)); o != 2 {
		t.Errorf("CheckLookups: %d orphans, want 2", o)
	}
	// Another tenant (another shard) reclaims both values at once.
	row := &Account{TenantID: 6, Email: "CRASH@example.org", Handle: 500, Number: "c"}
	if _, err := db.Accounts.Insert(ctx, row); err != nil {
		t.Fatalf("Insert after the crash: %v, want the orphans reclaimed", err)
	}
	if got, err := db.Accounts.GetByEmail(ctx, "crash@example.org"); err != nil || got.ID != row.ID {
		t.Errorf("GetByEmail after the reclaim = %+v, %v", got, err)
	}
	if got, err := db.Accounts.GetByHandle(ctx, 500); err != nil || got.ID != row.ID {
		t.Errorf("GetByHandle after the reclaim = %+v, %v", got, err)
	}
	if n := lookupRows(t, r, "accounts_email_lookup"); n != 1 {
		t.Errorf("%d email lookup rows after the reclaim, want 1", n)
	}

	// An update killed after claiming its new value: the lookup of the
	// new value names a row that exists but holds the old one.
	crash(t, urls, "update", fmt.Sprintf("LOOKUP_CRASH_ID=%d", row.ID))
	if _, err := db.Accounts.GetByEmail(ctx, "moved@example.org"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetByEmail of the crashed update's value: %v, want ErrNotFound (the row holds another)", err)
	}
	if got, err := db.Accounts.GetByEmail(ctx, "crash@example.org"); err != nil || got.ID != row.ID {
		t.Errorf("GetByEmail of the old value after the crashed update = %+v, %v", got, err)
	}
	other := &Account{TenantID: 1, Email: "moved@example.org", Handle: 501, Number: "m"}
	if _, err := db.Accounts.Insert(ctx, other); err != nil {
		t.Fatalf("Insert of the crashed update's value: %v, want it reclaimed", err)
	}
	if got, err := db.Accounts.GetByEmail(ctx, "moved@example.org"); err != nil || got.ID != other.ID {
		t.Errorf("GetByEmail after the reclaim = %+v, %v", got, err)
	}
	if o, m := (reporter{t}).report(db.Accounts.CheckLookups(ctx)); o != 0 || m != 0 {
		t.Errorf("CheckLookups: %d orphans, %d missing, want none", o, m)
	}
}

// TestUpdateDeleteWithReaders changes and deletes rows while readers look
// them up by value: a reader never gets a row that does not hold the value
// asked for; afterwards, once swept, no orphan is left and no row lacks
// its lookup.
func TestUpdateDeleteWithReaders(t *testing.T) {
	db, _, _ := open(t)
	ctx := context.Background()
	const n = 24
	rows := make([]*Account, n)
	for i := range rows {
		rows[i] = &Account{TenantID: int64(i + 1), Email: fmt.Sprintf("u%d-a@example.org", i), Handle: int64(i), Number: strconv.Itoa(i)}
		if _, err := db.Accounts.Insert(ctx, rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	var writers, readers sync.WaitGroup
	done := make(chan struct{})
	var mu sync.Mutex
	var wrong, reads, found int
	for w := range 4 { // writers: each owns rows w, w+4, ...
		writers.Add(1)
		go func() {
			defer writers.Done()
			deleted := map[int]bool{}
			for iter := range 30 {
				for i := w; i < n; i += 4 {
					if deleted[i] {
						continue
					}
					// Ping-pong between the row's two values: each update
					// claims one and releases the other.
					row := *rows[i]
					if strings.HasSuffix(row.Email, "-a@example.org") {
						row.Email = fmt.Sprintf("u%d-b@example.org", i)
					} else {
						row.Email = fmt.Sprintf("u%d-a@example.org", i)
					}
					if err := db.Accounts.Update(ctx, &row); err != nil {
						t.Errorf("Update row %d: %v", i, err)
						return
					}
					rows[i] = &row
				}
				if iter == 20 {
					for i := w; i < n; i += 8 {
						if err := db.Accounts.Delete(ctx, AccountID(rows[i].ID)); err != nil {
							t.Errorf("Delete row %d: %v", i, err)
						}
						deleted[i] = true
						rows[i] = &Account{ID: rows[i].ID, Email: "gone"}
					}
				}
			}
		}()
	}
	for range 4 { // readers, until the writers are done
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				i := rand.IntN(n)
				v := fmt.Sprintf("U%d-%c@example.org", i, "ab"[rand.IntN(2)])
				got, err := db.Accounts.GetByEmail(ctx, v)
				mu.Lock()
				reads++
				switch {
				case err == nil && !strings.EqualFold(got.Email, v):
					wrong++
					t.Errorf("GetByEmail(%s) returned row %d holding %s", v, got.ID, got.Email)
				case err == nil:
					found++
				case !errors.Is(err, runtime.ErrNotFound):
					t.Errorf("GetByEmail(%s): %v", v, err)
				}
				mu.Unlock()
			}
		}()
	}
	writers.Wait()
	close(done)
	readers.Wait()
	t.Logf("%d reads, %d found, %d wrong", reads, found, wrong)
	if found == 0 {
		t.Errorf("no read found a row: the test proves nothing")
	}
	if o, m := (reporter{t}).report(db.Accounts.SweepLookups(ctx)); m != 0 {
		t.Errorf("SweepLookups: %d orphans removed, %d missing", o, m)
	}
	if o, m := (reporter{t}).report(db.Accounts.CheckLookups(ctx)); o != 0 || m != 0 {
		t.Errorf("CheckLookups after the sweep: %d orphans, %d missing, want none", o, m)
	}
	// Every surviving row is found by its value.
	for i, row := range rows {
		if row.Email == "gone" {
			continue
		}
		if got, err := db.Accounts.GetByEmail(ctx, row.Email); err != nil || got.ID != row.ID {
			t.Errorf("row %d: GetByEmail(%s) = %+v, %v", i, row.Email, got, err)
		}
	}
}
`
