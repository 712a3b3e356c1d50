package pyeval

import (
	"fmt"
	"regexp"
	"strings"
)

// importRe matches the start of a Python import statement and captures the
// module of a `from M import ...` or `import M` line.
var importRe = regexp.MustCompile(`^[ \t]*(?:from[ \t]+([A-Za-z_][A-Za-z0-9_.]*)[ \t]+import\b|import[ \t]+([A-Za-z_][A-Za-z0-9_.]*))`)

// blankImports blanks every `from XrdTest[.X] import ...` statement,
// continuation lines included, so that the remaining source is Starlark and
// line numbers are unchanged. Any other import is reported: definitions are
// sandboxed and can only use the predeclared framework names.
func blankImports(src string) (string, []lineError) {
	lines := strings.SplitAfter(src, "\n")
	var errs []lineError
	var sc lexState
	for i := 0; i < len(lines); i++ {
		startsLogical := sc.atStatementStart()
		m := importRe.FindStringSubmatch(lines[i])
		if !startsLogical || m == nil {
			sc.scan(lines[i])
			continue
		}
		module := m[1] + m[2]
		first := i
		// The statement extends over bracketed and backslash continuations.
		sc.scan(lines[i])
		for !sc.atStatementStart() && i+1 < len(lines) {
			i++
			sc.scan(lines[i])
		}
		if m[1] == "" || (module != "XrdTest" && !strings.HasPrefix(module, "XrdTest.")) {
			errs = append(errs, lineError{line: first + 1, msg: fmt.Sprintf(
				"import of %q is not allowed: definition files may only import from XrdTest (Cluster, Network, Host, Disk, TestSuite, TestCase are predeclared)", module)})
			continue
		}
		for j := first; j <= i; j++ {
			lines[j] = blankLine(lines[j])
		}
	}
	return strings.Join(lines, ""), errs
}

// blankLine keeps only the line terminator so positions stay put.
func blankLine(l string) string {
	if strings.HasSuffix(l, "\r\n") {
		return "\r\n"
	}
	if strings.HasSuffix(l, "\n") {
		return "\n"
	}
	return ""
}

type lineError struct {
	line int
	msg  string
}

// lexState follows just enough of Python's lexical structure (strings,
// comments, brackets, backslash continuations) to tell where a logical
// statement begins, so an "import" inside a docstring is not mistaken for one.
type lexState struct {
	depth    int    // open brackets
	quote    string // open string delimiter: ', ", ''' or """; "" when none
	contLine bool   // previous line ended with a backslash
}

func (s *lexState) atStatementStart() bool {
	return s.depth == 0 && s.quote == "" && !s.contLine
}

func (s *lexState) scan(line string) {
	s.contLine = false
	body := strings.TrimRight(line, "\r\n")
	for i := 0; i < len(body); i++ {
		c := body[i]
		if s.quote != "" {
			switch {
			case c == '\\':
				i++ // the escaped character, whatever it is
			case strings.HasPrefix(body[i:], s.quote):
				i += len(s.quote) - 1
				s.quote = ""
			}
			continue
		}
		switch c {
		case '#':
			return
		case '\'', '"':
			q := string(c)
			if strings.HasPrefix(body[i:], q+q+q) {
				q = q + q + q
			}
			s.quote = q
			i += len(q) - 1
		case '(', '[', '{':
			s.depth++
		case ')', ']', '}':
			if s.depth > 0 {
				s.depth--
			}
		case '\\':
			if i == len(body)-1 {
				s.contLine = true
			}
		}
	}
	if s.quote == "'" || s.quote == `"` {
		// A single-quoted string cannot span lines (except after a backslash,
		// which the loop skipped); the parser will report it.
		if !strings.HasSuffix(body, "\\") {
			s.quote = ""
		}
	}
}
