package runtime

import "testing"

func TestServerGoingAway(t *testing.T) {
	for code, want := range map[string]bool{
		"08000": true,  // connection_exception
		"08006": true,  // connection_failure
		"57P01": true,  // admin_shutdown
		"57P03": true,  // cannot_connect_now
		"08P01": false, // protocol_violation: a caller's bug (wrong parameter count), not an outage
		"42P01": false, // undefined_table
		"23505": false, // unique_violation
	} {
		if got := serverGoingAway(code); got != want {
			t.Errorf("serverGoingAway(%q) = %v, want %v", code, got, want)
		}
	}
}
