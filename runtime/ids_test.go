package runtime

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDefaultLayoutValid(t *testing.T) {
	l := DefaultLayout()
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.String(), "41/13/10@2024-01-01T00:00:00Z"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if l.MaxShards() != 8192 || l.MaxSeq() != 1023 {
		t.Errorf("MaxShards, MaxSeq = %d, %d; want 8192, 1023", l.MaxShards(), l.MaxSeq())
	}
}

func TestLayoutValidateRejects(t *testing.T) {
	epoch := DefaultEpoch()
	cases := []struct {
		name string
		l    Layout
		want string
	}{
		{"sum 65", Layout{41, 13, 11, epoch}, "bits sum to 65"},
		{"sum 63", Layout{40, 13, 10, epoch}, "bits sum to 63"},
		{"time ran out", Layout{21, 21, 22, epoch}, "ran out"},
		{"zero shard bits", Layout{54, 0, 10, epoch}, "at least one bit"},
		{"negative", Layout{65, -1, 0, epoch}, "at least one bit"},
		{"zero epoch", Layout{41, 13, 10, time.Time{}}, "epoch is not set"},
		{"future epoch", Layout{41, 13, 10, time.Now().Add(time.Hour)}, "in the future"},
	}
	for _, c := range cases {
		err := c.l.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want error containing %q", c.name, err, c.want)
		}
	}
}

func TestCheckShards(t *testing.T) {
	l := DefaultLayout()
	for _, n := range []int{1, 16, 4096, 8192} {
		if err := l.CheckShards(n); err != nil {
			t.Errorf("CheckShards(%d) = %v", n, err)
		}
	}
	for _, n := range []int{0, -1, 8193, 1 << 20} {
		if err := l.CheckShards(n); err == nil {
			t.Errorf("CheckShards(%d) = nil, want error", n)
		}
	}
}

func TestComposeDecodeRoundTrip(t *testing.T) {
	l := DefaultLayout()
	when := time.Date(2026, 11, 22, 3, 14, 15, 926_000_000, time.UTC)
	for _, shard := range []Shard{0, 1, 7, 4095, 8191} {
		for _, seq := range []int64{0, 1, 512, 1023} {
			id, err := l.Compose(when, shard, seq)
			if err != nil {
				t.Fatal(err)
			}
			if id <= 0 {
				t.Fatalf("Compose gave non-positive ID %d", id)
			}
			if got := l.Shard(id); got != shard {
				t.Errorf("Shard(%d) = %d, want %d", id, got, shard)
			}
			if got := l.Seq(id); got != seq {
				t.Errorf("Seq(%d) = %d, want %d", id, got, seq)
			}
			if got := l.Time(id); !got.Equal(when) {
				t.Errorf("Time(%d) = %s, want %s", id, got, when)
			}
		}
	}
}

// TestKnownID pins the bit layout: a change of field order or widths must
// fail here rather than silently re-route existing IDs.
func TestKnownID(t *testing.T) {
	l := DefaultLayout()
	// 1000 ms after the epoch, shard 5, seq 3: 1000<<23 | 5<<10 | 3.
	id, err := l.ComposeMillis(1000, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(8388608000 + 5120 + 3); id != want {
		t.Fatalf("ComposeMillis(1000, 5, 3) = %d, want %d", id, want)
	}
	if got := l.Time(id); !got.Equal(DefaultEpoch().Add(time.Second)) {
		t.Errorf("Time = %s", got)
	}
	// The largest ID of the default layout is MaxInt64 and still positive;
	// one ms later the sign bit would be set, so Compose refuses it.
	max, err := l.ComposeMillis(l.MaxMillis(), 8191, 1023)
	if err != nil {
		t.Fatal(err)
	}
	if max != math.MaxInt64 {
		t.Errorf("largest ID = %d, want MaxInt64", max)
	}
	if got := l.Time(max); got.Year() != 2058 {
		t.Errorf("last representable time = %s, want in 2058", got)
	}
	if _, err := l.ComposeMillis(l.MaxMillis()+1, 0, 0); !errors.Is(err, ErrIDRange) {
		t.Errorf("ComposeMillis(MaxMillis+1) = %v, want ErrIDRange", err)
	}
}

func TestComposeRange(t *testing.T) {
	l := DefaultLayout()
	bad := []struct {
		ms    int64
		shard Shard
		seq   int64
	}{
		{-1, 0, 0}, {1 << 40, 0, 0}, {0, 8192, 0}, {0, -1, 0}, {0, 0, 1024}, {0, 0, -1},
	}
	for _, b := range bad {
		if _, err := l.ComposeMillis(b.ms, b.shard, b.seq); !errors.Is(err, ErrIDRange) {
			t.Errorf("ComposeMillis(%d, %d, %d) = %v, want ErrIDRange", b.ms, b.shard, b.seq, err)
		}
	}
	if _, err := l.Compose(DefaultEpoch().Add(-time.Millisecond), 0, 0); !errors.Is(err, ErrIDRange) {
		t.Errorf("Compose before epoch = %v, want ErrIDRange", err)
	}
}

func TestParseIDAndText(t *testing.T) {
	id, err := ParseID("8388613123")
	if err != nil || id != 8388613123 {
		t.Fatalf("ParseID = %d, %v", id, err)
	}
	for _, s := range []string{"", "0", "-5", "12a", "9223372036854775808", " 1"} {
		if _, err := ParseID(s); err == nil {
			t.Errorf("ParseID(%q) = nil error", s)
		}
	}
	type doc struct {
		ID  ID        `json:"id"`
		IDs map[ID]ID `json:"ids"`
	}
	in := doc{ID: 42, IDs: map[ID]ID{7: 9}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	// Text form everywhere: JSON carries IDs as strings, which JavaScript
	// clients cannot round to the nearest double.
	if got, want := string(b), `{"id":"42","ids":{"7":"9"}}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != 42 || out.IDs[7] != 9 {
		t.Errorf("round trip = %+v", out)
	}
	var x ID
	if err := x.UnmarshalText([]byte("abc")); err == nil {
		t.Error("UnmarshalText(abc) = nil error")
	}
	if ID(12).String() != "12" {
		t.Errorf("String = %q", ID(12).String())
	}
}
