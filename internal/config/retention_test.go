package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseAge(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * day, true}, {"2w", 14 * day, true}, {"36h", 36 * time.Hour, true}, {"1d12h", 36 * time.Hour, true},
		{"1.5h", 90 * time.Minute, true}, {" 7d ", 7 * day, true}, {"90m", 90 * time.Minute, true}, {"3600s", time.Hour, true},
		{"0", 0, true}, {"", 0, true},
		{"90", 0, false}, {"d", 0, false}, {"90y", 0, false}, {"-1d", 0, false}, {"1d 2h", 0, false}, {"1..2d", 0, false},
		{"99999999999w", 0, false}, {"1d12", 0, false},
	} {
		got, err := ParseAge(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for d, want := range map[time.Duration]string{0: "0", 90 * day: "90d", 36 * time.Hour: "36h", 90 * time.Minute: "1h30m0s"} {
		if got := FormatAge(d); got != want {
			t.Errorf("FormatAge(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseAge(FormatAge(d)); d%time.Hour == 0 && (err != nil || back != d) {
			t.Errorf("ParseAge(FormatAge(%v)) = %v, %v", d, back, err)
		}
	}
}

func TestRetention(t *testing.T) {
	m, _, err := LoadMaster("testdata/master-full.conf")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "master Retention", m.Retention, Retention{MaxAge: 90 * 24 * time.Hour, MaxSessions: 100000, OutputsMaxAge: 30 * 24 * time.Hour})
	s, _, err := LoadSlave("testdata/slave-full.conf")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "slave Retention", s.Retention, Retention{MaxAge: 14 * 24 * time.Hour, MaxSessions: 50})
	if DefaultMaster().Retention.Limited() || DefaultSlave().Retention.Limited() {
		t.Error("history is limited by default")
	}
	for _, st := range m.Settings() {
		if st.Key == "retention.max_age" && st.Value != "90d" {
			t.Errorf("Settings: %s = %q, want 90d", st.Key, st.Value)
		}
	}

	for _, tc := range []struct{ text, want string }{
		{"[retention]\nmax_age = 90\n", `FILE:2: [retention] max_age: invalid age "90": a number without a unit`},
		{"[retention]\n\nmax_age = 30m\n", `FILE:3: [retention] max_age: 30m0s is below the minimum of 1h0m0s (0: keep forever)`},
		{"[retention]\nmax_sessions = -3\n", `FILE:2: [retention] max_sessions: invalid count "-3"`},
		{"[retention]\nmax_sessions = many\n", `FILE:2: [retention] max_sessions: invalid count "many"`},
	} {
		path := writeConf(t, tc.text)
		want := strings.ReplaceAll(tc.want, "FILE", path)
		if _, _, err := LoadMaster(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadMaster: %v, want %q", err, want)
		}
		if _, _, err := LoadSlave(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadSlave: %v, want %q", err, want)
		}
	}
	// outputs_max_age is the master's only: the slave warns of it.
	path := writeConf(t, "[retention]\noutputs_max_age = 2h\n")
	if _, _, err := LoadMaster(writeConf(t, "[retention]\noutputs_max_age = 59m\n")); err == nil ||
		!strings.Contains(err.Error(), "[retention] outputs_max_age: 59m0s is below the minimum of 1h0m0s") {
		t.Errorf("LoadMaster, outputs_max_age = 59m: %v", err)
	}
	if s, warns, err := LoadSlave(path); err != nil || len(warns) != 1 || !strings.Contains(warns[0].String(), "outputs_max_age") || s.Retention.Limited() {
		t.Errorf("LoadSlave, outputs_max_age: %v %v %+v", warns, err, s.Retention)
	}
	m = DefaultMaster()
	if err := m.Set("retention.max_age", "0", "flag"); err != nil || m.Retention.MaxAge != 0 {
		t.Errorf("max_age 0: %v, %v", m.Retention.MaxAge, err)
	}
}
