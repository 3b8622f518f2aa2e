package runtime

import (
	"context"
	"errors"
	"testing"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardgen/shardgen/runtime/pgtest"
)

// TestCollectPage reads pages of real rows with a model-like scan
// function: every row in order in one slab (the pointers are consecutive
// elements of one allocation), an empty result as nil, a scan error and a
// server error wrapped with what, and the rows closed either way.
func TestCollectPage(t *testing.T) {
	_, urls := pgtest.NewDatabase(t, 1, "app")
	r := openBlog(t, blogSpec(2), urls)
	d, err := r.Database("default")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type item struct {
		N    int64
		Text string
	}
	scan := func(row pgx.Row, dest *item) error { return row.Scan(&dest.N, &dest.Text) }
	q := d.Prepare("SELECT i, 'r' || i FROM generate_series($1::int, $2::int) AS i ORDER BY i DESC")

	rows, err := d.Target().Query(ctx, q, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	got, err := CollectPage(rows, 5, scan, "app.Item")
	if err != nil || len(got) != 5 {
		t.Fatalf("CollectPage = %d rows, %v", len(got), err)
	}
	for i, it := range got {
		if it.N != int64(5-i) || it.Text != "r"+string(rune('0'+5-i)) {
			t.Errorf("row %d = %+v", i, *it)
		}
		if i > 0 && uintptr(unsafe.Pointer(it))-uintptr(unsafe.Pointer(got[i-1])) != unsafe.Sizeof(item{}) {
			t.Errorf("row %d is not in the page's one allocation", i)
		}
	}
	if !rows.CommandTag().Select() {
		t.Error("rows not read to the end")
	}

	rows, err = d.Target().Query(ctx, q, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := CollectPage(rows, 5, scan, "app.Item"); got != nil || err != nil {
		t.Errorf("empty page = %v, %v; want nil, nil", got, err)
	}

	bad := errors.New("bad row")
	rows, err = d.Target().Query(ctx, q, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	failing := func(row pgx.Row, dest *item) error { return bad }
	if _, err := CollectPage(rows, 3, failing, "app.Item"); !errors.Is(err, bad) || err.Error() != "read app.Item rows: bad row" {
		t.Errorf("scan error = %v", err)
	}
	// The connection went back to the pool: the next call works.
	rows, err = d.Target().Query(ctx, d.Prepare("SELECT 1/(i - 2), 'x' FROM generate_series(1, 3) AS i"))
	if err != nil {
		t.Fatal(err)
	}
	var pgErr *pgconn.PgError
	if _, err := CollectPage(rows, 3, scan, "app.Item"); !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Errorf("division by zero mid-result = %v, want SQLSTATE 22012", err)
	}
}
