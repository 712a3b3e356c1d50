package console

import (
	"bytes"
	"testing"
)

func TestControlEscaper(t *testing.T) {
	for _, tc := range []struct {
		writes []string
		want   string
	}{
		{[]string{"plain text\n\twith tab\r\n"}, "plain text\n\twith tab\r\n"},
		{[]string{"\x1b]0;pwned\x07\x1b[2J"}, "^[]0;pwned^G^[[2J"},
		{[]string{"del\x7f bs\b"}, "del^? bs^H"},
		{[]string{"csi \u009b31m é"}, `csi \u009b31m é`},
		{[]string{"split \xc2", "\x9b end"}, `split \u009b end`},
		{[]string{"é split \xc3", "\xa9"}, "é split é"},
	} {
		var b bytes.Buffer
		e := &controlEscaper{w: &b}
		for _, w := range tc.writes {
			if n, err := e.Write([]byte(w)); n != len(w) || err != nil {
				t.Errorf("Write(%q) = %d, %v", w, n, err)
			}
		}
		if b.String() != tc.want {
			t.Errorf("%q: wrote %q, want %q", tc.writes, b.String(), tc.want)
		}
	}
}
