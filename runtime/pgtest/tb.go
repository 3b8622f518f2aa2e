package pgtest

import (
	"context"
	"os"
	"time"
)

// TB is the part of testing.TB that New uses; *testing.T and *testing.B
// implement it. Declaring it here keeps package testing out of programs
// that use pgtest outside tests.
type TB interface {
	Helper()
	Cleanup(func())
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// New starts n servers for a test and closes them when it ends.
//
// With SHARDGEN_TEST_DATABASE_URL set, the servers are database prefixes on
// that server instead. Without it, and without PostgreSQL binaries, the test
// is skipped with the reason, unless CI=true, where it fails: CI must never
// pass by skipping the database tests.
func New(tb TB, n int) []*Server {
	tb.Helper()
	return NewWith(tb, n, Options{})
}

// NewWith is New with options; an empty ExternalURL is taken from
// SHARDGEN_TEST_DATABASE_URL.
func NewWith(tb TB, n int, opts Options) []*Server {
	tb.Helper()
	if opts.ExternalURL == "" {
		opts.ExternalURL = os.Getenv(EnvDatabaseURL)
	}
	if opts.ExternalURL == "" {
		if _, err := BinDir(opts); err != nil {
			if os.Getenv("CI") == "true" {
				tb.Fatalf("%v; CI=true requires PostgreSQL (install postgresql-15 or set %s)", err, EnvDatabaseURL)
			}
			tb.Skipf("%v; install postgresql-15 or set %s to run this test", err, EnvDatabaseURL)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	servers, err := StartServers(ctx, n, opts)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() {
		for _, s := range servers {
			if err := s.Close(); err != nil {
				tb.Logf("pgtest: %v", err)
			}
		}
	})
	return servers
}

// NewDatabase is New followed by CreateDatabase(name) on every server; it
// returns the servers and each server's URL for that database.
func NewDatabase(tb TB, n int, name string) ([]*Server, []string) {
	tb.Helper()
	servers := New(tb, n)
	urls := make([]string, n)
	for i, s := range servers {
		if err := s.CreateDatabase(context.Background(), name); err != nil {
			tb.Fatalf("%v", err)
		}
		urls[i] = s.URL(name)
	}
	return servers, urls
}
