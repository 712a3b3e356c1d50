package session

import "context"

// AddEvent records an event in a session's log, as the session's own
// are (a shell opened or closed on one of its hosts), and tells the live
// views.
func (m *Manager) AddEvent(ctx context.Context, id int64, kind, msg string) {
	m.event(ctx, id, kind, msg)
}
