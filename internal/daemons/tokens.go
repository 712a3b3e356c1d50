package daemons

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/pki"
)

// OneTimeTokens are enrollment tokens the master hands to the machines it
// starts: each is bound to one slave name, valid once and for a limited
// time, so a token read from a VM's kernel command line is worth nothing
// afterwards.
type OneTimeTokens struct {
	TTL time.Duration // 0: one hour

	mu     sync.Mutex
	tokens map[string]oneTimeToken // by slave name
}

type oneTimeToken struct {
	value   string
	expires time.Time
}

// Issue returns a new token for name, replacing any earlier one.
func (t *OneTimeTokens) Issue(name string) string {
	if t == nil {
		return ""
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	ttl := t.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tokens == nil {
		t.tokens = map[string]oneTimeToken{}
	}
	v := hex.EncodeToString(b)
	t.tokens[name] = oneTimeToken{value: v, expires: time.Now().Add(ttl)}
	return v
}

// Consume reports whether token is the valid token of name, and spends it.
func (t *OneTimeTokens) Consume(name, token string) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, ok := t.tokens[name]
	if !ok || time.Now().After(tok.expires) || !pki.TokenEqual(token, tok.value) {
		return false
	}
	delete(t.tokens, name)
	return true
}

// Revoke spends the unused tokens of names: a cluster that stopped has
// no machine left to enroll, and a token read from one of its VMs must
// not outlive it.
func (t *OneTimeTokens) Revoke(names ...string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range names {
		delete(t.tokens, n)
	}
}
