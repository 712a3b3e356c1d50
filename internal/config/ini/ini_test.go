package ini

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

func parse(t *testing.T, text string) *File {
	t.Helper()
	f, err := Parse("t.conf", strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

// The expected values were checked against Python 2.7's
// ConfigParser.ConfigParser, which the original framework used.
func TestParseValues(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		section string
		key     string
		want    string
	}{
		{"equals", "[s]\nkey = value\n", "s", "key", "value"},
		{"colon", "[s]\nkey: value\n", "s", "key", "value"},
		{"trimmed", "[s]\n  \nkey\t=\t value \t\n", "s", "key", "value"},
		{"no spaces", "[s]\nkey=value", "s", "key", "value"},
		{"first separator wins", "[s]\nurl: http://h:80/a=b\n", "s", "url", "http://h:80/a=b"},
		{"git url after =", "[s]\nremote_repo=jsalmon@xrootd.cern.ch:/var/repos/x.git\n", "s", "remote_repo", "jsalmon@xrootd.cern.ch:/var/repos/x.git"},
		{"key with inner space", "[s]\nmy key = v\n", "s", "my key", "v"},
		{"empty value", "[s]\nkey =\n", "s", "key", ""},
		{"quoted empty", "[s]\nkey = \"\"\n", "s", "key", ""},
		{"quotes kept", "[s]\nkey = \"a\"\n", "s", "key", `"a"`},
		{"case-insensitive key", "[s]\nLog_Level = DEBUG\n", "s", "LOG_LEVEL", "DEBUG"},
		{"hash comment", "[s]\n# key = no\nkey = yes\n", "s", "key", "yes"},
		{"semicolon comment", "[s]\n; key = no\nkey = yes\n", "s", "key", "yes"},
		{"rem comment", "[s]\nREM key = no\nkey = yes\n", "s", "key", "yes"},
		{"rem key is a comment", "[s]\nrem = 1\nkey = yes\n", "s", "key", "yes"},
		{"remote key is not rem", "[s]\nremote = 1\n", "s", "remote", "1"},
		{"inline ; after space", "[s]\nkey = value ; comment\n", "s", "key", "value"},
		{"inline ; after tab", "[s]\nkey = value\t;comment\n", "s", "key", "value"},
		{"; inside value", "[s]\nkey = a;b\n", "s", "key", "a;b"},
		{"only the first ; counts", "[s]\nkey = a;b ;c\n", "s", "key", "a;b ;c"},
		{"inline # is not a comment", "[s]\nkey = a # b\n", "s", "key", "a # b"},
		{"leading ; kept", "[s]\nkey = ;x\n", "s", "key", ";x"},
		{"leading ; and trailing space", "[s]\nkey = ; x \n", "s", "key", ""},
		{"header comment ignored", "[s] ; about s\nkey = v\n", "s", "key", "v"},
		{"header junk ignored", "[s]junk\nkey = v\n", "s", "key", "v"},
		{"header spaces kept", "[ s ]\nkey = v\n", " s ", "key", "v"},
		{"continuation", "[s]\nkey = one\n  two\n\tthree\n", "s", "key", "one\ntwo\nthree"},
		{"continuation after blank and comment", "[s]\nkey = one\n\n# c\n  two\n", "s", "key", "one\ntwo"},
		{"indented # continues", "[s]\nkey = one\n  # two\n", "s", "key", "one\n# two"},
		{"continuation keeps ;", "[s]\nkey = one\n  two ;c\n", "s", "key", "one\ntwo ;c"},
		{"continuation of empty", "[s]\nkey =\n  two\n", "s", "key", "\ntwo"},
		{"indented header continues", "[s]\nkey = one\n  [t]\n", "s", "key", "one\n[t]"},
		{"repeated key: later wins", "[s]\nkey = 1\nKEY = 2\n", "s", "key", "2"},
		{"repeated section merged", "[s]\na = 1\nkey = 1\n[t]\n[s]\nkey = 2\n", "s", "a", "1"},
		{"repeated section: later wins", "[s]\nkey = 1\n[t]\n[s]\nkey = 2\n", "s", "key", "2"},
		{"DEFAULT inherited", "[DEFAULT]\nkey = d\n[s]\n", "s", "key", "d"},
		{"DEFAULT overridden", "[DEFAULT]\nkey = d\n[s]\nkey = s\n", "s", "key", "s"},
		{"DEFAULT after", "[s]\n[DEFAULT]\nkey = d\n", "s", "key", "d"},
		{"DEFAULT continuation", "[DEFAULT]\nkey = a\n  b\n[s]\n", "s", "key", "a\nb"},
		{"interpolation", "[s]\nbase = /srv\npath = %(base)s/x\n", "s", "path", "/srv/x"},
		{"interpolation from DEFAULT", "[DEFAULT]\nbase = /srv\n[s]\npath = %(base)s/x\n", "s", "path", "/srv/x"},
		{"interpolation section first", "[DEFAULT]\nbase = /d\npath = %(base)s/x\n[s]\nbase = /s\n", "s", "path", "/s/x"},
		{"interpolation case-insensitive", "[s]\nbase = /srv\npath = %(BASE)s/x\n", "s", "path", "/srv/x"},
		{"interpolation recursive", "[s]\na = %(b)s.a\nb = %(c)s.b\nc = c\n", "s", "a", "c.b.a"},
		{"interpolation depth 10", "[s]\n" + chain(10), "s", "k0", "end"},
		{"%% with interpolation", "[s]\nb = x\na = %(b)s 100%%\n", "s", "a", "x 100%"},
		{"%% alone is kept", "[s]\na = 100%%\n", "s", "a", "100%%"},
		{"lone % without interpolation is kept", "[s]\na = 50%\n", "s", "a", "50%"},
		{"substituted %% is not expanded", "[s]\nb = 1%%\na = %(b)s\n", "s", "a", "1%%"},
		{"%%( expands on the next pass", "[s]\nb = x\na = %%(b)s%(b)s\n", "s", "a", "xx"},
		{"__name__", "[s]\na = %(__name__)s\n", "s", "a", "s"},
		{"CR before LF", "[s]\r\nkey = value\r\nk2 = a\r\n  b\r\n", "s", "k2", "a\nb"},
		{"CRLF leading ;", "[s]\r\nkey = ;x\r\n", "s", "key", ""},
		{"BOM", "\ufeff[s]\nkey = v\n", "s", "key", "v"},
		{"no final newline", "[s]\nkey = v", "s", "key", "v"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := parse(t, tc.text)
			got, err := f.Get(tc.section, tc.key)
			if err != nil {
				t.Fatalf("Get(%q, %q): %v", tc.section, tc.key, err)
			}
			if got != tc.want {
				t.Errorf("Get(%q, %q) = %q, want %q", tc.section, tc.key, got, tc.want)
			}
		})
	}
}

// chain returns keys k0..k{n-1}, each referring to the next, the last
// one to a plain value: n levels of nesting.
func chain(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("k" + strconv.Itoa(i) + " = %(k" + strconv.Itoa(i+1) + ")s\n")
	}
	b.WriteString("k" + strconv.Itoa(n) + " = end\n")
	return b.String()
}

func TestParseStructure(t *testing.T) {
	f := parse(t, `# comment
[general]
a = 1
B = 2

[DEFAULT]
d = x

[server]
port = 20000
[general]
c = 3
`)
	if got, want := f.Sections(), []string{"general", "server"}; !slices.Equal(got, want) {
		t.Errorf("Sections() = %q, want %q", got, want)
	}
	if got, want := f.Section("general").Keys(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Keys() = %q, want %q", got, want)
	}
	if got, want := f.Options("server"), []string{"port", "d"}; !slices.Equal(got, want) {
		t.Errorf("Options(server) = %q, want %q", got, want)
	}
	if f.HasSection(DefaultSection) || !f.HasSection("server") || f.HasSection("Server") {
		t.Error("HasSection: DEFAULT must not count, section names are case-sensitive")
	}
	if s := f.Section("general"); s.Line != 2 {
		t.Errorf("general Line = %d, want 2", s.Line)
	}
	for _, tc := range []struct {
		section, key, from string
		line               int
	}{
		{"general", "a", "general", 3},
		{"general", "B", "general", 4},
		{"general", "c", "general", 12},
		{"server", "port", "server", 10},
		{"server", "d", DefaultSection, 7},
	} {
		e, ok := f.Raw(tc.section, tc.key)
		if !ok || e.Line != tc.line || e.Section != tc.from {
			t.Errorf("Raw(%q, %q) = %+v, %v; want line %d in [%s]", tc.section, tc.key, e, ok, tc.line, tc.from)
		}
	}
	if _, ok := f.Raw("nosuch", "d"); ok {
		t.Error("DEFAULT keys must not appear in a section the file does not have")
	}
	if _, err := f.Get("server", "nosuch"); !errors.Is(err, ErrMissing) {
		t.Errorf("Get of a missing key: %v, want ErrMissing", err)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0].String(), "t.conf:11: [general]: section repeated (first at line 2)") {
		t.Errorf("Warnings = %v, want the repeated [general]", f.Warnings)
	}
}

func TestParseRepeatedKeyWarning(t *testing.T) {
	f := parse(t, "[s]\nkey = 1\n\nKey = 2\n")
	if len(f.Warnings) != 1 {
		t.Fatalf("Warnings = %v, want 1", f.Warnings)
	}
	w := f.Warnings[0]
	if got, want := w.String(), "t.conf:4: [s] key: key repeated (first at line 2): the later value wins"; got != want {
		t.Errorf("warning = %q, want %q", got, want)
	}
	if e, _ := f.Raw("s", "key"); e.Line != 4 {
		t.Errorf("line of the repeated key = %d, want 4 (the value's)", e.Line)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		is   error
		want []string // each must appear, in this order
	}{
		{"key before section", "# c\n\nkey = v\n[s]\n", ErrNoSectionHeader, []string{"t.conf:3: no section header"}},
		{"indented key before section", "  key = v\n", ErrNoSectionHeader, []string{"t.conf:1: no section header"}},
		{"no separator", "[s]\nkey value\n", ErrSyntax, []string{"t.conf:2: [s]: syntax error"}},
		{"all syntax errors", "[s]\nbad one\nok = 1\nbad two\n", ErrSyntax, []string{"t.conf:2: [s]: syntax error", "t.conf:4: [s]: syntax error"}},
		{"indented line after header", "[s]\n  key = v\n", ErrSyntax, []string{"t.conf:2: [s]: syntax error"}},
		{"unclosed header", "[s]\n[t\n", ErrSyntax, []string{"t.conf:2: [s]: syntax error"}},
		{"empty header", "[]\n", ErrNoSectionHeader, []string{"t.conf:1: no section header"}},
		{"separator first", "[s]\n= v\n", ErrSyntax, []string{"t.conf:2: [s]: syntax error"}},
		{"CRLF line numbers", "[s]\r\na = 1\r\nbad\r\n", ErrSyntax, []string{"t.conf:3: [s]: syntax error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.conf", strings.NewReader(tc.text))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			testutil.ContainsInOrder(t, err.Error(), tc.want)
		})
	}
}

func TestInterpolationErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		key  string
		want string
	}{
		{"missing key", "[s]\n\na = %(nosuch)s\n", "a", `t.conf:3: [s] a: %(nosuch)s refers to key "nosuch", which is not in [s] or [DEFAULT]`},
		{"loop", "[s]\na = %(b)s\nb = %(a)s\n", "a", "t.conf:2: [s] a: interpolation deeper than 10 levels"},
		{"self reference", "[s]\na = x%(a)s\n", "a", "t.conf:2: [s] a: interpolation deeper than 10 levels"},
		{"too deep", "[s]\n" + chain(11), "k0", "t.conf:2: [s] k0: interpolation deeper than 10 levels"},
		{"lone % at end", "[s]\nb = x\na = %(b)s 100%\n", "a", `t.conf:3: [s] a: "%" at the end of the value`},
		{"lone % inside", "[s]\nb = x\na = %(b)s 50%d\n", "a", `t.conf:3: [s] a: "%" must start "%(key)s" or "%%"`},
		{"format other than s", "[s]\nb = 1\na = %(b)d\n", "a", `t.conf:3: [s] a: reference %(b) must be followed by "s"`},
		{"unterminated", "[s]\na = %(b\n", "a", `t.conf:2: [s] a: unterminated "%(" reference`},
		{"missing in DEFAULT-inherited value", "[DEFAULT]\na = %(x)s\n[s]\n", "a", `t.conf:2: [s] a: %(x)s refers to key "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := parse(t, tc.text)
			_, err := f.Get("s", tc.key)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInterpolation) {
				t.Errorf("error %q is not ErrInterpolation", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %q, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestParseCRLFFile(t *testing.T) {
	data, err := os.ReadFile("testdata/crlf.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\r\n") {
		t.Fatal("testdata/crlf.conf lost its CRLF line ends")
	}
	f, err := Parse("testdata/crlf.conf", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ section, key, want string }{
		{"server", "ip", "0.0.0.0"},
		{"server", "port", "20000"},
		{"server", "connection_passwd", "pass"},
		{"webserver", "protocol", "https"},
		{"webserver", "webpage_dir", "/srv/www/webpage"},
		{"webserver", "note", "first\nsecond"},
	} {
		if got, err := f.Get(tc.section, tc.key); err != nil || got != tc.want {
			t.Errorf("Get(%q, %q) = %q, %v; want %q", tc.section, tc.key, got, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"[s]\na = 1\n",
		"[DEFAULT]\nx = %(y)s\ny = 1\n[s]\nz = %(x)s%%\n",
		"[s]\nk = a\n  b\n; c\nk2: v ;c\n",
		"x\n",
		"[s]\r\na = ;b\r\n",
		"[general]\ntest-repos = a,b\n[test-repo-a]\ntype = git\n[server]\nport = 1\n[DEFAULT]\nlocal_path = x\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		file, err := Parse("f.conf", strings.NewReader(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.conf:") {
				t.Fatalf("error without file:line: %q", err)
			}
			return
		}
		for _, s := range append(file.Sections(), DefaultSection) {
			for _, k := range file.Options(s) {
				_, _ = file.Get(s, k)
			}
		}
	})
}
