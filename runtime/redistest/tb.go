package redistest

import (
	"context"
	"os"
	"time"
)

// TB is the part of testing.TB that New uses; declaring it here keeps
// package testing out of programs that use redistest outside tests.
type TB interface {
	Helper()
	Cleanup(func())
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// New starts n servers with the default options for a test and closes them
// when it ends.
func New(tb TB, n int) []*Server {
	tb.Helper()
	return NewWith(tb, n, Options{})
}

// NewWith is New with options. Without redis-server the test is skipped
// with the reason, unless CI=true, where it fails: CI must never pass by
// skipping the Redis tests.
func NewWith(tb TB, n int, opts Options) []*Server {
	tb.Helper()
	if _, err := Bin(opts); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v; CI=true requires redis-server", err)
		}
		tb.Skipf("%v; install redis-server to run this test", err)
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
				tb.Logf("redistest: %v", err)
			}
		}
	})
	return servers
}
