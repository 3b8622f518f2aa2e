package runtime

import (
	"context"
	"errors"
	"testing"

	"github.com/shardgen/shardgen/runtime/pgtest"
)

func TestTxAfterCommit(t *testing.T) {
	_, urls := pgtest.NewDatabase(t, 1, "txhook")
	spec := Spec{Groups: []GroupSpec{{Name: "g", Shards: 2}}}
	r := openSplit(t, spec, urls, PoolConfig{})
	g, _ := r.Group("g")
	ctx := context.Background()
	q := g.Prepare(`SELECT 1 FROM (SELECT 1) AS @schema@`) // schema-qualified in form only; no table needed
	var ran []string
	err := g.InTx(ctx, 0, func(tx *Tx) error {
		tx.AfterCommit(func() { ran = append(ran, "first") })
		tx.AfterCommit(func() { ran = append(ran, "second") })
		if len(ran) != 0 {
			t.Error("hook ran before the commit")
		}
		_, err := tx.Exec(ctx, q)
		return err
	})
	if err != nil || len(ran) != 2 || ran[0] != "first" || ran[1] != "second" {
		t.Fatalf("after commit: ran %v, err %v", ran, err)
	}
	ran = nil
	boom := errors.New("boom")
	err = g.InTx(ctx, 1, func(tx *Tx) error {
		tx.AfterCommit(func() { ran = append(ran, "rolled back") })
		return boom
	})
	if !errors.Is(err, boom) || len(ran) != 0 {
		t.Fatalf("after rollback: ran %v, err %v", ran, err)
	}
}
