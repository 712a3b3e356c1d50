package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// maxRevoked bounds the logins remembered as ended: past it, the cookie
// key is replaced instead, which ends every login at once.
const maxRevoked = 10000

// revocations are the logins ended by a logout before their cookie
// expires, by nonce, until that expiry. The cookie is signed, not stored:
// without this list the browser's copy of it would stay valid for the
// whole lifetime. The list is kept beside the key file, so a restart
// does not bring ended logins back.
type revocations struct {
	mu   sync.Mutex
	file string           // "": memory only (the key is new at every start too)
	ends map[string]int64 // nonce -> expiry, unix seconds
	max  int              // 0: maxRevoked
}

func loadRevocations(file string) (*revocations, error) {
	r := &revocations{file: file, ends: map[string]int64{}}
	if file == "" {
		return r, nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &r.ends)
	}
	if err != nil {
		return nil, fmt.Errorf("web logins ended: %w", err)
	}
	return r, nil
}

// has reports whether the login of nonce was ended.
func (r *revocations) has(nonce string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.ends[nonce]
	return ok
}

// add ends a login; full reports that the list is full of logins still
// valid, and was cleared: the caller must replace the key.
func (r *revocations) add(nonce string, expires int64, now time.Time) (full bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n, e := range r.ends {
		if e <= now.Unix() {
			delete(r.ends, n)
		}
	}
	r.ends[nonce] = expires
	if len(r.ends) > cmp.Or(r.max, maxRevoked) {
		clear(r.ends)
		full = true
	}
	return full, r.save()
}

func (r *revocations) save() error {
	if r.file == "" {
		return nil
	}
	b, err := json.Marshal(r.ends)
	if err != nil {
		return err
	}
	tmp := r.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, r.file)
}
