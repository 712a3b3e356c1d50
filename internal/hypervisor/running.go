package hypervisor

import (
	"maps"
	"slices"
	"sync"
)

// ClusterSet is the clusters a backend runs, by name, with what it keeps
// of each: what its Clusters and Running report. It has a lock of its
// own, so that these never wait for a start or stop under way. The zero
// value is empty and ready.
type ClusterSet[T any] struct {
	mu sync.Mutex
	m  map[string]T
}

// Names lists the clusters, in no particular order.
func (s *ClusterSet[T]) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Keys(s.m))
}

// Has reports whether the set holds cluster name.
func (s *ClusterSet[T]) Has(name string) bool {
	_, ok := s.Get(name)
	return ok
}

// Get returns what the set keeps of cluster name.
func (s *ClusterSet[T]) Get(name string) (v T, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok = s.m[name]
	return v, ok
}

// Put adds cluster name, or replaces what the set keeps of it.
func (s *ClusterSet[T]) Put(name string, v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]T{}
	}
	s.m[name] = v
}

// Take removes cluster name and returns what the set kept of it.
func (s *ClusterSet[T]) Take(name string) (v T, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok = s.m[name]
	delete(s.m, name)
	return v, ok
}
