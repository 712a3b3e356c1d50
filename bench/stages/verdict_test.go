package main

import "testing"

// TestTargetVerdict checks the words the targets section prints: met,
// missed, or missed where bash alone misses it too.
func TestTargetVerdict(t *testing.T) {
	for _, c := range []struct {
		xrdtest, bashAlone float64
		want               string
	}{
		{1.2, 1.1, "ok"},
		{1.3, 1.6, "ok"},
		{1.31, 1.2, "MISSED"},
		{2.75, 1.3, "MISSED"},
		{2.75, 1.6, "MISSED, beyond reach here: bash alone is above the target"},
	} {
		if got := targetVerdict(c.xrdtest, c.bashAlone); got != c.want {
			t.Errorf("targetVerdict(%v, %v) = %q, want %q", c.xrdtest, c.bashAlone, got, c.want)
		}
	}
}
