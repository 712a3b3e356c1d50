package files

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xrdtest/xrdtest/internal/store"
)

// maxComponent bounds the length of an escaped path component, well below
// the usual 255-byte file name limit (".out" is appended to slave names).
const maxComponent = 200

// escapeComponent turns user data (a slave name, a log path) into a single
// file name that cannot be "", "." or "..", and contains no separator and
// no byte outside [a-z0-9._%~-].
//
// Every byte outside [a-z0-9._-], and a leading '.', is percent-encoded
// ("/" is "%2F"), so that host names stay readable ("a.xrd.test"), the
// encoding is injective ('%' itself is encoded) and stays so on
// case-insensitive file systems (upper case letters are encoded). Names whose encoding is longer than maxComponent
// are cut and suffixed with "~" and 16 hex digits of the SHA-256 of the
// original; '~' is never produced by the encoding, so a cut name never
// equals an uncut one.
func escapeComponent(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	out := b.String()
	if len(out) <= maxComponent {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	cut := maxComponent - 17
	// Do not cut inside a %XX escape (for readability only).
	if i := strings.LastIndexByte(out[:cut], '%'); i >= cut-2 {
		cut = i
	}
	return out[:cut] + "~" + hex.EncodeToString(sum[:8])
}

func checkSession(session int64) error {
	if session <= 0 {
		return fmt.Errorf("%w: session %d", store.ErrInvalid, session)
	}
	return nil
}

func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", store.ErrInvalid, what)
	}
	return nil
}

// outputPath is <dir>/outputs/<session>/<stage>/<slave>.out.
func outputPath(dir string, session int64, stage int, slave string) (string, error) {
	if err := checkSession(session); err != nil {
		return "", err
	}
	if stage < 0 {
		return "", fmt.Errorf("%w: stage %d", store.ErrInvalid, stage)
	}
	if err := checkName("slave name", slave); err != nil {
		return "", err
	}
	return filepath.Join(dir, "outputs", strconv.FormatInt(session, 10), strconv.Itoa(stage),
		escapeComponent(slave)+".out"), nil
}

// logPath is <dir>/logs/<session>/<slave>/<path> and returns also the escaped
// file name of path.
func logPath(dir string, session int64, slave, path string) (full, file string, err error) {
	if err := checkSession(session); err != nil {
		return "", "", err
	}
	if err := checkName("slave name", slave); err != nil {
		return "", "", err
	}
	if err := checkName("log path", path); err != nil {
		return "", "", err
	}
	file = escapeComponent(path)
	return filepath.Join(dir, "logs", strconv.FormatInt(session, 10), escapeComponent(slave), file), file, nil
}
