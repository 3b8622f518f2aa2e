package redistest

import (
	"testing"
)

func TestRestartKeepsWhatPersistenceKeeps(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Persistence
		kill bool
		want string
	}{
		{"aof-always-kill", AOFAlways, true, "42"},
		{"none-stop", None, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewWith(t, 1, Options{Persistence: tc.p})[0]
			if _, err := s.Do("SET", "k", "42"); err != nil {
				t.Fatal(err)
			}
			if tc.kill {
				if err := s.Kill(); err != nil {
					t.Fatal(err)
				}
			} else if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Do("PING"); err == nil {
				t.Fatal("server still answers after stop")
			}
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			got, err := s.Do("GET", "k")
			if err != nil || got != tc.want {
				t.Fatalf("GET k after restart = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestSeveralServersAndPassword(t *testing.T) {
	ss := NewWith(t, 3, Options{Password: "s3cret"})
	seen := map[string]bool{}
	for _, s := range ss {
		if seen[s.Addr()] {
			t.Fatalf("two servers on %s", s.Addr())
		}
		seen[s.Addr()] = true
		if _, err := s.Do("SET", "who", s.Name()); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range ss {
		if got, _ := s.Do("GET", "who"); got != s.Name() {
			t.Fatalf("%s holds %q", s.Name(), got)
		}
	}
	if want := "redis://:s3cret@" + ss[0].Addr() + "/0"; ss[0].URL() != want {
		t.Fatalf("URL %q, want %q", ss[0].URL(), want)
	}
}
