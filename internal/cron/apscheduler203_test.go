package cron

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// TestAPScheduler203Golden compares Next with fire times computed by the
// real APScheduler 2.0.3 for random schedules (testdata/gen_apscheduler203.py).
func TestAPScheduler203Golden(t *testing.T) {
	data, err := os.ReadFile("testdata/apscheduler203.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Fields map[string]string
		After  string
		Next   []*string
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 100 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, c := range cases {
		s, err := Parse(c.Fields)
		if err != nil {
			t.Errorf("Parse(%v): %v", c.Fields, err)
			continue
		}
		prev := mustUTC(t, c.After)
		for i, want := range c.Next {
			got := s.Next(prev)
			if want == nil {
				if !got.IsZero() {
					t.Errorf("%v: Next #%d after %v = %v, want none", c.Fields, i+1, prev, got)
				}
				break
			}
			if w := mustUTC(t, *want); !got.Equal(w) {
				t.Errorf("%v: Next #%d after %v = %v, want %v", c.Fields, i+1, prev, got, w)
				break
			}
			prev = got
		}
	}
}

func mustUTC(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.DateTime, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
