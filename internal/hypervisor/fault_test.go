package hypervisor

import (
	"strings"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want FaultSpec
		err  string
	}{
		{[]string{"partition", "srv1,srv2", "man.xrd.test"}, FaultSpec{Kind: FaultPartition, Hosts: []string{"srv1", "srv2"}, Peers: []string{"man.xrd.test"}}, ""},
		{[]string{"isolate", "srv1"}, FaultSpec{Kind: FaultIsolate, Hosts: []string{"srv1"}}, ""},
		{[]string{"loss", "srv1", "12.5%"}, FaultSpec{Kind: FaultLoss, Hosts: []string{"srv1"}, Percent: 12.5}, ""},
		{[]string{"rate", "srv1", "1mbit"}, FaultSpec{Kind: FaultRate, Hosts: []string{"srv1"}, Rate: "1mbit"}, ""},
		{[]string{"delay", "srv1", "100ms"}, FaultSpec{Kind: FaultDelay, Hosts: []string{"srv1"}, Delay: 100 * time.Millisecond}, ""},
		{[]string{"kill", "srv1", "xrootd"}, FaultSpec{Kind: FaultKill, Hosts: []string{"srv1"}, Process: "xrootd"}, ""},
		{[]string{"fill", "srv1", "/data"}, FaultSpec{Kind: FaultFill, Hosts: []string{"srv1"}, Path: "/data"}, ""},
		{nil, FaultSpec{}, "no fault given"},
		{[]string{"flood", "srv1"}, FaultSpec{}, `unknown fault "flood"`},
		{[]string{"isolate"}, FaultSpec{}, "takes HOST, got 0 words"},
		{[]string{"isolate", "srv1,srv2"}, FaultSpec{}, "takes one host"},
		{[]string{"partition", "srv1", "srv1,srv2"}, FaultSpec{}, "srv1 is in both groups"},
		{[]string{"partition", "srv1,", "srv2"}, FaultSpec{}, "bad host list"},
		{[]string{"loss", "srv1", "150"}, FaultSpec{}, "not a number in (0, 100]"},
		{[]string{"rate", "srv1", "fast"}, FaultSpec{}, "not a rate"},
		{[]string{"delay", "srv1", "-1s"}, FaultSpec{}, "not a duration"},
		{[]string{"kill", "srv1", "x;rm -rf /"}, FaultSpec{}, "not a process name"},
		{[]string{"fill", "srv1", "data"}, FaultSpec{}, "not an absolute path"},
	} {
		got, err := ParseFault(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want.String() || got.Percent != tt.want.Percent || got.Delay != tt.want.Delay {
			t.Errorf("%q: %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
		if back, err := ParseFault(strings.Fields(got.String())); err != nil || back.String() != got.String() {
			t.Errorf("%q: String %q does not parse back: %v", tt.args, got.String(), err)
		}
	}
}

func TestResolveHosts(t *testing.T) {
	hosts := []string{"man.xrd.test", "srv1.xrd.test"}
	s := FaultSpec{Kind: FaultPartition, Hosts: []string{"man"}, Peers: []string{"srv1.xrd.test"}}
	if err := s.ResolveHosts("c", hosts); err != nil || s.Hosts[0] != "man.xrd.test" || s.Peers[0] != "srv1.xrd.test" {
		t.Errorf("%+v, %v", s, err)
	}
	s = FaultSpec{Kind: FaultIsolate, Hosts: []string{"srv9"}}
	if err := s.ResolveHosts("c", hosts); err == nil || err.Error() != "fault isolate: cluster c has no host srv9" {
		t.Errorf("unknown host: %v", err)
	}
}
