package store

// LeakLockConn forgets the connection holding the one-master lock without
// closing it: its server process lives on, holding the lock, as after a
// network cut the server has not noticed.
func LeakLockConn(p *Postgres) {
	p.lockMu.Lock()
	defer p.lockMu.Unlock()
	p.lock = nil
}
