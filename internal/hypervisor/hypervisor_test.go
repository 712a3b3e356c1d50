package hypervisor

import (
	"testing"

	"github.com/xrdtest/xrdtest/internal/pki"
)

func TestMachineCapacity(t *testing.T) {
	c, err := MachineCapacity()
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryKiB <= 0 || c.FreeMemoryKiB <= 0 || c.FreeMemoryKiB > c.MemoryKiB || c.CPUs <= 0 {
		t.Errorf("capacity %+v", c)
	}
}

func TestCredentials(t *testing.T) {
	own, fallback := pki.Fingerprint{1}, pki.Fingerprint{2}
	spec := ClusterSpec{Tokens: map[string]string{"a": "tok-a"}, Master: MasterEndpoint{Fingerprint: own}}
	if tok, fp := spec.Credentials("a", "tok", fallback); tok != "tok-a" || fp != own {
		t.Errorf("the spec's: %q %v", tok, fp)
	}
	if tok, fp := (ClusterSpec{}).Credentials("b", "tok", fallback); tok != "tok" || fp != fallback {
		t.Errorf("the backend's: %q %v", tok, fp)
	}
}

func TestClusterSet(t *testing.T) {
	var s ClusterSet[int]
	if s.Has("a") || len(s.Names()) != 0 {
		t.Fatal("the zero set is not empty")
	}
	s.Put("a", 1)
	s.Put("b", 2)
	if v, ok := s.Get("a"); !ok || v != 1 || !s.Has("b") || len(s.Names()) != 2 {
		t.Errorf("after Put: %v %v", v, s.Names())
	}
	if v, ok := s.Take("a"); !ok || v != 1 || s.Has("a") {
		t.Errorf("Take: %v %v, left %v", v, ok, s.Names())
	}
	if _, ok := s.Take("a"); ok {
		t.Error("a taken twice")
	}
}
