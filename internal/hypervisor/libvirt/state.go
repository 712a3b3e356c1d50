package libvirt

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// StateFileName is the state file inside Config.StateDir.
const StateFileName = "state.json"

const stateVersion = 1

// State is everything the backend created, written before each object is
// made, so that a crash leaves a record of it.
type State struct {
	Version  int                       `json:"version"`
	Clusters map[string]*ClusterRecord `json:"clusters"`
	// Cached are the volumes kept across stops (cacheBootImage, Disk.cache):
	// removed only by Purge.
	Cached []VolumeRecord `json:"cached_volumes"`
}

// ClusterRecord is one cluster's objects. Live is set once StartCluster
// has succeeded and cleared by nothing: StopCluster removes the record. A
// record that is not live is what a failed or interrupted start left.
type ClusterRecord struct {
	Live    bool           `json:"live"`
	Started time.Time      `json:"started"`
	Network *NetworkRecord `json:"network,omitempty"`
	Domains []string       `json:"domains,omitempty"`
	// Volumes are the non-cached volumes, deleted at stop.
	Volumes []VolumeRecord `json:"volumes,omitempty"`
	// Addrs are the hosts' addresses by name: what network faults filter.
	Addrs map[string]string `json:"addrs,omitempty"`
	// Faults are the faults on (fault.go), each step written before it is
	// made: a stop, a heal or a backend started after a crash undoes them.
	Faults []FaultRecord `json:"faults,omitempty"`
}

// NetworkRecord names a network the backend defined; UUID is set once
// libvirt has assigned it, and a network of that name with another UUID is
// not ours.
type NetworkRecord struct {
	Name   string `json:"name"`
	UUID   string `json:"uuid,omitempty"`
	Bridge string `json:"bridge"`
}

// VolumeRecord names a volume the backend created.
type VolumeRecord struct {
	Pool    string `json:"pool"`
	Name    string `json:"name"`
	Cluster string `json:"cluster"`
}

// stateStore guards the state and writes it atomically at every change.
type stateStore struct {
	path string
	mu   sync.Mutex
	st   State
}

func loadState(path string) (*stateStore, error) {
	s := &stateStore{path: path, st: State{Version: stateVersion, Clusters: map[string]*ClusterRecord{}}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	if err := json.Unmarshal(b, &s.st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if s.st.Version != stateVersion {
		return nil, fmt.Errorf("state file %s: version %d, want %d", path, s.st.Version, stateVersion)
	}
	if s.st.Clusters == nil {
		s.st.Clusters = map[string]*ClusterRecord{}
	}
	return s, nil
}

// update changes the state under the lock and writes it; a failed write
// leaves the state in memory changed (it is retried at the next update).
func (s *stateStore) update(f func(*State)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
	return s.writeLocked()
}

// view reads the state under the lock.
func (s *stateStore) view(f func(*State)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
}

func (s *stateStore) writeLocked() error {
	b, err := json.MarshalIndent(&s.st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path, append(b, '\n'))
}

// writeFileAtomic writes a temporary file beside path, syncs it and
// renames it over path, then syncs the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".state-*.tmp")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// isCached says whether a volume is recorded as cached.
func (st *State) isCached(pool, name string) bool {
	return slices.ContainsFunc(st.Cached, func(v VolumeRecord) bool { return v.Pool == pool && v.Name == name })
}

func (st *State) dropCached(pool, name string) {
	st.Cached = slices.DeleteFunc(st.Cached, func(v VolumeRecord) bool { return v.Pool == pool && v.Name == name })
}

// recordedVolume says whether any cluster record holds the volume as a
// non-cached one.
func (st *State) recordedVolume(pool, name string) bool {
	for _, r := range st.Clusters {
		if slices.ContainsFunc(r.Volumes, func(v VolumeRecord) bool { return v.Pool == pool && v.Name == name }) {
			return true
		}
	}
	return false
}

func (st *State) live(cluster string) bool {
	r := st.Clusters[cluster]
	return r != nil && r.Live
}
