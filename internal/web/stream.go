package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/xrdtest/xrdtest/internal/views"

	"github.com/xrdtest/xrdtest/internal/httpapi"
	"github.com/xrdtest/xrdtest/internal/store"
)

// sse writes Server-Sent Events.
type sse struct {
	w       http.ResponseWriter
	f       http.Flusher
	release func() // frees the stream's place in Config.Streams
}

// startSSE starts a stream of events, if the bounds on streams allow
// (else it answers 429 itself and returns false); the caller defers
// s.release.
func (h *Handler) startSSE(w http.ResponseWriter, r *http.Request) (*sse, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		h.errorPage(w, r, http.StatusInternalServerError, errors.New("streaming is not supported by this connection"))
		return nil, false
	}
	release, err := h.cfg.Streams.Start(w, r)
	if err != nil {
		h.errorPage(w, r, httpapi.Status(err), err)
		return nil, false
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // no buffering by a reverse proxy
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sse{w: w, f: f, release: release}, true
}

// changes is an event stream that follows the session changes (sub) and
// keeps its connection alive (tick: send a comment).
type changes struct {
	*sse
	sub  *httpapi.Subscription
	tick *time.Ticker
}

// startChanges starts a changes stream, as startSSE starts a stream; the
// caller defers s.close.
func (h *Handler) startChanges(w http.ResponseWriter, r *http.Request) (*changes, bool) {
	// Subscribed first: no change is missed while the stream starts.
	sub := h.cfg.Changes.Subscribe()
	s, ok := h.startSSE(w, r)
	if !ok {
		sub.Close()
		return nil, false
	}
	return &changes{sse: s, sub: sub, tick: time.NewTicker(keepAlive)}, true
}

func (s *changes) close() {
	s.tick.Stop()
	s.release()
	s.sub.Close()
}

// next waits for sessions to change, or for the channel other returns
// (asked again after each keep-alive; nil: none) to be closed, sending a
// keep-alive comment at each tick meanwhile. It returns the sessions
// changed (none when it was other), and false once the client has gone.
func (s *changes) next(ctx context.Context, other func() <-chan struct{}) (map[int64]struct{}, bool) {
	for {
		var otherc <-chan struct{}
		if other != nil {
			otherc = other()
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-s.tick.C:
			if s.comment() != nil {
				return nil, false
			}
		case <-s.sub.Ready():
			return s.sub.Take(), true
		case <-otherc:
			return nil, true
		}
	}
}

// pause waits d, false when ctx ends first.
func pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// send writes one event; data is JSON (one line), id "" for none.
func (s *sse) send(event, id string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if id != "" {
		if _, err := fmt.Fprintf(s.w, "id: %s\n", id); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

func (s *sse) comment() error {
	if _, err := fmt.Fprint(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

// keepAlive is how often an idle stream sends a comment, so proxies and
// browsers keep it open and a gone client is noticed.
const keepAlive = 15 * time.Second

// outputStream streams a stage's output as "output" events, each
// {"t": text} with an id that is the byte offset after it (so a browser
// that reconnects resumes there), then an "end" event with the result.
// The text is UTF-8: a character cut by a chunk boundary is sent whole
// with the next chunk.
func (h *Handler) outputStream(w http.ResponseWriter, r *http.Request) {
	id, stage, slave, offset, ok := h.resultAt(w, r)
	if !ok {
		return
	}
	// EventSource sends the last id it saw when it reconnects.
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		if n, err := strconv.ParseInt(last, 10, 64); err == nil && n >= 0 {
			offset = n
		}
	}
	// A cell the session does not have is 404 at once: following it
	// would send nothing until the session ends.
	if err := views.CheckCell(r.Context(), h.cfg.Store, id, stage, slave); err != nil {
		h.viewError(w, r, err)
		return
	}
	s, ok := h.startSSE(w, r)
	if !ok {
		return
	}
	defer s.release()
	ctx := r.Context()
	end := func() {
		res, err := h.cfg.Views.Result(ctx, id, stage, slave)
		status := store.StatusPending
		var code *int
		if err == nil {
			status, code = res.Status, res.ExitCode
		}
		s.send("end", "", map[string]any{"status": status, "exit_code": code})
	}
	f, err := views.OpenOutput(ctx, h.cfg.Store, id, stage, slave, true)
	if errors.Is(err, store.ErrNotFound) {
		end() // the stage ended without output
		return
	}
	if err != nil {
		return // the client went away
	}
	defer f.Close()
	pos := offset
	var carry []byte
	emit := func(p []byte) error {
		pos += int64(len(p))
		p = append(carry, p...)
		// Keep an incomplete trailing character for the next chunk.
		cut := len(p)
		for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
			if utf8.RuneStart(p[i]) {
				if !utf8.FullRune(p[i:]) {
					cut = i
				}
				break
			}
		}
		carry = append([]byte(nil), p[cut:]...)
		if cut == 0 {
			return nil
		}
		return s.send("output", strconv.FormatInt(pos-int64(len(carry)), 10), map[string]string{"t": string(p[:cut])})
	}
	if err := f.Copy(ctx, offset, emit, nil); err != nil {
		return
	}
	if len(carry) > 0 {
		s.send("output", strconv.FormatInt(pos, 10), map[string]string{"t": string(carry)})
	}
	end()
}

// sessionEvents sends a "change" event whenever the session's record
// changes (coalesced to a few per second) and "end" once it has finished.
func (h *Handler) sessionEvents(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	se, err := h.cfg.Store.Session(ctx, id)
	if err != nil {
		h.viewError(w, r, err)
		return
	}
	s, ok := h.startChanges(w, r)
	if !ok {
		return
	}
	defer s.close()
	if se.State.Finished() {
		s.send("end", "", map[string]any{"state": se.State})
		return
	}
	for {
		changed, ok := s.next(ctx, nil)
		if !ok {
			return
		}
		if _, mine := changed[id]; !mine {
			continue
		}
		se, err := h.cfg.Store.Session(ctx, id)
		if err != nil {
			return
		}
		if se.State.Finished() {
			s.send("end", "", map[string]any{"state": se.State})
			return
		}
		if s.send("change", "", map[string]any{"state": se.State}) != nil {
			return
		}
		// Coalesce: at most a few refreshes per second.
		if !pause(ctx, 250*time.Millisecond) {
			return
		}
	}
}

// dashboardEvents sends a "change" event when any session changes or a
// daemon connects or disconnects, at most about once a second.
func (h *Handler) dashboardEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, ok := h.startChanges(w, r)
	if !ok {
		return
	}
	defer s.close()
	for {
		if _, ok := s.next(ctx, h.cfg.Registry.Changed); !ok {
			return
		}
		if s.send("change", "", map[string]any{}) != nil {
			return
		}
		if !pause(ctx, time.Second) {
			return
		}
	}
}
