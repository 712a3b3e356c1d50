package console

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Safe returns w, made safe for text from elsewhere when w is a
// terminal: a script's output could otherwise drive the user's terminal
// with escape sequences (retitle it, rewrite what is shown, or, with some
// terminals, make it answer as if typed). Piped or redirected, the text
// stays exact.
func Safe(w io.Writer) io.Writer {
	if !IsTerminal(w) {
		return w
	}
	return &controlEscaper{w: w}
}

// controlEscaper writes control characters visibly: C0 ones but newline,
// tab and carriage return as ^X (ESC as ^[, DEL as ^?), C1 ones (U+0080 to
// U+009F, which some terminals take as ESC sequences) as \u0080.
type controlEscaper struct {
	w     io.Writer
	carry bool // the last Write ended with 0xC2, the first byte of a C1
}

func (e *controlEscaper) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+16)
	in := p
	if e.carry {
		in = append([]byte{0xC2}, p...)
		e.carry = false
	}
	for i := 0; i < len(in); i++ {
		b := in[i]
		switch {
		case b == '\n' || b == '\t' || b == '\r':
			out = append(out, b)
		case b < 0x20:
			out = append(out, '^', b+'@')
		case b == 0x7f:
			out = append(out, '^', '?')
		case b == 0xC2 && i == len(in)-1:
			e.carry = true
		case b == 0xC2 && in[i+1] >= 0x80 && in[i+1] <= 0x9f:
			out = fmt.Appendf(out, `\u%04x`, in[i+1])
			i++
		default:
			out = append(out, b)
		}
	}
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
