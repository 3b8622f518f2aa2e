package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shardgen/shardgen/runtime/pgtest"
)

// TestConfigAgainstServer checks the configuration promises of issue 17
// (points 5-8) on a real server that asks for passwords: a password with
// / # ? @ % : and a space, substituted with ${VAR} into a URL, logs in as
// the right role to the right database, and neither Server.String, Addr,
// the pool's PoolInfo nor the error of a wrong such password shows it; a
// connection string's pool_max_conns bounds the connections really opened
// on the server; with a misspelt SHARDGEN_DATABSE_DEFAULT_URL,
// ConfigFromEnviron fails instead of letting DATABASE_URL pick another
// database, and with the right name the router uses the database named.
func TestConfigAgainstServer(t *testing.T) {
	srv := pgtest.New(t, 1)[0]
	if srv.External() {
		t.Skip("needs a server started by pgtest (its pg_hba.conf is edited)")
	}
	ctx := context.Background()
	for _, db := range []string{"right", "wrong"} {
		if err := srv.CreateDatabase(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	passwords := map[string]string{"slashy": "8842/kX9qLeak", "punct": "a#b?c@d%e:f g"}
	for role, pw := range passwords {
		if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD '"+pw+"'"); err != nil {
			t.Fatal(err)
		}
	}
	hba := filepath.Join(srv.Dir(), "pg_hba.conf")
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hba, []byte("host all slashy,punct 127.0.0.1/32 scram-sha-256\n"+string(orig)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the postmaster rereads pg_hba.conf on SIGHUP
	base := srv.URL("right")
	if !strings.HasPrefix(base, "postgres://postgres@") {
		t.Fatalf("pgtest URL %q does not start with postgres://postgres@", base)
	}
	spec := Spec{Databases: []DatabaseSpec{{Name: "default"}}}
	whoami := func(r *Router) (string, error) {
		d, _ := r.Database("default")
		var who string
		err := d.Target().QueryRow(ctx, d.Prepare("SELECT current_user || '@' || current_database()")).Scan(&who)
		return who, err
	}

	// ${VAR} in a URL: the password is percent-encoded, so it stays the
	// password; it shows nowhere.
	for role, pw := range passwords {
		u := strings.Replace(base, "postgres://postgres@", "postgres://"+role+":${PW}@", 1)
		for _, given := range []string{pw, pw + "-wrong"} {
			js, _ := json.Marshal(map[string]any{"databases": map[string]string{"default": u}})
			cfg, err := ParseConfigJSON(js, func(name string) (string, bool) { return given, name == "PW" })
			if err != nil {
				t.Fatalf("%s: %v", role, err)
			}
			var info PoolInfo
			cfg.ConfigurePool = func(pi PoolInfo, _ *pgxpool.Config) error { info = pi; return nil }
			r, err := Open(ctx, cfg, spec)
			if err != nil {
				t.Fatalf("%s: %v", role, err)
			}
			who, err := whoami(r)
			d, _ := r.Database("default")
			shown := d.Server().String() + " " + d.Server().Addr() + " " + info.Addr
			if err != nil {
				shown += " " + err.Error()
			}
			r.Close()
			if given == pw && (err != nil || who != role+"@right") {
				t.Errorf("%s with its password: %q, %v; want %s@right", role, who, err, role)
			}
			if given != pw && !errors.Is(err, ErrMisconfigured) {
				t.Errorf("%s with a wrong password: %v; want ErrMisconfigured", role, err)
			}
			for _, part := range []string{pw, "kX9q", "f g", "#b?c"} {
				if strings.Contains(shown, part) {
					t.Errorf("%s: %q shows the password: %s", role, part, shown)
				}
			}
		}
	}

	// pool_max_conns of the URL bounds the server's connections.
	cfg := Config{Databases: map[string]string{"default": base + "&pool_max_conns=3&application_name=capped"}, Pool: PoolConfig{AcquireTimeout: 300 * time.Millisecond}}
	r, err := Open(ctx, cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, _ := r.Database("default")
	hold, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			err := d.Target().WithConn(ctx, func(*pgx.Conn, string) error {
				hold <- struct{}{}
				<-release
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	for range 3 {
		<-hold
	}
	_, err = d.Target().Exec(ctx, d.Prepare("SELECT 1"))
	var open int
	if qerr := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'capped'").Scan(&open); qerr != nil {
		t.Fatal(qerr)
	}
	close(release)
	wg.Wait()
	if !errors.Is(err, ErrPoolTimeout) || open != 3 {
		t.Errorf("pool_max_conns=3 with 3 held: a 4th call gave %v (want ErrPoolTimeout), %d connections on the server (want 3)", err, open)
	}
	if st := r.Stats(); st[0].MaxConns != 3 {
		t.Errorf("Stats MaxConns %d, want 3", st[0].MaxConns)
	}

	// A misspelt variable fails; DATABASE_URL does not take over.
	env := []string{"DATABASE_URL=" + srv.URL("wrong"), "SHARDGEN_DATABSE_DEFAULT_URL=" + base}
	if _, err := ConfigFromEnviron(env); err == nil || !strings.Contains(err.Error(), "did you mean SHARDGEN_DATABASE_DEFAULT_URL?") {
		t.Errorf("misspelt variable: %v", err)
	}
	env[1] = "SHARDGEN_DATABASE_DEFAULT_URL=" + base
	cfg, err = ConfigFromEnviron(env)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if who, err := whoami(r2); err != nil || who != "postgres@right" {
		t.Errorf("SHARDGEN_DATABASE_DEFAULT_URL beside DATABASE_URL: %q, %v; want postgres@right", who, err)
	}
}
