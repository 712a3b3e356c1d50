package postgres

// LeakLockConn forgets the connection holding the one-master lock without
// closing it: its server process lives on, holding the lock, as after a
// network cut the server has not noticed.
func LeakLockConn(p *Store) {
	p.lockMu.Lock()
	defer p.lockMu.Unlock()
	p.lock = nil
}
