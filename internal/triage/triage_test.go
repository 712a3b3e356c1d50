package triage

import (
	"strings"
	"testing"
)

func intp(i int) *int { return &i }

func TestNormalise(t *testing.T) {
	hosts := []string{"srv1.xrd.test", "srv2.xrd.test"}
	tests := []struct{ in, want string }{
		{"kill 12345 failed", "kill N failed"},
		{"2026-12-07T03:32:48.123Z error", "<time> error"},
		{"[2026-12-07 03:32:48,5] boom", "[<time>] boom"},
		{"at 03:32:48 boom", "at <time> boom"},
		{"cannot open /tmp/xrdtest-8812/data.bin: no such file", "cannot open <tmp>: no such file"},
		{"cannot open /var/tmp/x.abc/f", "cannot open <tmp>"},
		{"object 3e44039a8f missing", "object <id> missing"},
		{"ptr 0xdeadbeef", "ptr <id>"},
		{"id 123e4567-e89b-12d3-a456-426614174000", "id <id>"},
		{"srv2.xrd.test: connection refused", "<host>: connection refused"},
		{"connect srv1:1094 refused", "connect <host>:N refused"},
		{"  spaced \t out  ", "spaced out"},
		{"decade fade cafe", "decade fade cafe"}, // words, not ids
	}
	for _, tc := range tests {
		if got := Normalise(tc.in, hosts); got != tc.want {
			t.Errorf("Normalise(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	hosts := []string{"srv1.xrd.test", "srv2.xrd.test"}
	base := func(exit int, tail string) Failure {
		return Failure{Stage: "c:run", Status: "failed", Exit: intp(exit), Tail: []byte(tail), Hosts: hosts}
	}
	a, textA := Fingerprint(base(1, "start\npid 4242 at 2026-12-07T03:00:01Z on srv1.xrd.test\nERROR: lock held by 0x7f3a22\n"))
	tests := []struct {
		name string
		f    Failure
		same bool
	}{
		{"other pid, time and host", base(1, "start\npid 977 at 2026-12-08T11:22:33Z on srv2.xrd.test\nERROR: lock held by 0x11aa00\n"), true},
		{"earlier lines differ", base(1, strings.Repeat("noise\n", 50)+"start\npid 1 at 2026-12-07T03:00:01Z on srv1.xrd.test\nERROR: lock held by 0x1\n"), false},
		{"other error", base(1, "start\npid 4242 at 2026-12-07T03:00:01Z on srv1.xrd.test\nERROR: disk full\n"), false},
		{"other exit status", base(2, "start\npid 4242 at 2026-12-07T03:00:01Z on srv1.xrd.test\nERROR: lock held by 0x7f3a22\n"), false},
		{"other stage", Failure{Stage: "c:init", Status: "failed", Exit: intp(1), Hosts: hosts,
			Tail: []byte("start\npid 4242 at 2026-12-07T03:00:01Z on srv1.xrd.test\nERROR: lock held by 0x7f3a22\n")}, false},
		{"timeout", Failure{Stage: "c:run", Status: "timeout", Hosts: hosts,
			Tail: []byte("start\npid 4242 at 2026-12-07T03:00:01Z on srv1.xrd.test\nERROR: lock held by 0x7f3a22\n")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, textB := Fingerprint(tc.f)
			if (a == b) != tc.same {
				t.Errorf("same fingerprint = %v, want %v\n%s\n---\n%s", a == b, tc.same, textA, textB)
			}
			if (textA == textB) != (a == b) {
				t.Errorf("ids and texts disagree")
			}
		})
	}
	if want := "c:run: exit 1\nstart\npid N at <time> on <host>\nERROR: lock held by <id>"; textA != want {
		t.Errorf("text = %q, want %q", textA, want)
	}
	if len(a) != 16 {
		t.Errorf("id %q: want 16 hex digits", a)
	}
}

func TestFingerprintTail(t *testing.T) {
	// A tail cut mid-line drops the cut line; more than TailLines lines
	// keep the last ones.
	long := strings.Repeat("x", TailBytes-10) + "\n1\n2\n3\n4\n5\n6\nlast\n"
	_, text := Fingerprint(Failure{Stage: "c:run", Status: "lost", Tail: []byte(long[len(long)-TailBytes:])})
	if want := "c:run: lost\nN\nN\nN\nN\nlast"; text != want {
		t.Errorf("text = %q, want %q", text, want)
	}
}
