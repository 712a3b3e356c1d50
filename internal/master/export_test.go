package master

import "time"

// SetSessionCountsTTL sets how long the session counts of /metrics are
// kept (tests: 0, always fresh).
func (m *Metrics) SetSessionCountsTTL(d time.Duration) { m.sessions.ttl = d }
