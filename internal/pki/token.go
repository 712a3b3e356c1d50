package pki

import (
	"crypto/sha256"
	"crypto/subtle"
)

// TokenEqual compares an enrollment token with the expected one in
// constant time. Both are hashed first, so neither the content nor the
// length of the expected token leaks through timing. An empty token never
// matches, so an unset token cannot let anyone enroll.
func TokenEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	eq := subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
	return eq && a != "" && b != ""
}
