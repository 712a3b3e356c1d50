package ini

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// DefaultSection is the name of the section whose keys every other
// section inherits, as in Python's ConfigParser.
const DefaultSection = "DEFAULT"

// maxInterpolationDepth is Python's MAX_INTERPOLATION_DEPTH: the number of
// substitution passes before a value still holding "%(" is an error.
const maxInterpolationDepth = 10

// File is a parsed INI file. Sections keep the order of their first
// header; a section repeated later is merged into the first one, later
// keys winning, as Python 2's ConfigParser does. Keys are lower-cased;
// section names are case-sensitive.
type File struct {
	// Name is the file name used in messages.
	Name string
	// Warnings are the non-fatal findings of the parser: repeated
	// sections and keys.
	Warnings []Warning

	defaults *Section
	sections []*Section
	byName   map[string]*Section
}

// Section is one [section] of a File.
type Section struct {
	// Name is the name between the brackets, untrimmed, as Python keeps it.
	Name string
	// Line is the line of the section's first header (0 for a DEFAULT
	// section that the file does not have).
	Line int

	entries []*Entry
	byKey   map[string]*Entry
}

// Entry is one key of a section with its raw value: not interpolated,
// continuation lines joined with "\n".
type Entry struct {
	Section string // the section the key is written in (DEFAULT for inherited keys)
	Key     string // lower-cased
	Value   string
	Line    int // line of the key (continuations follow it)
}

func newSection(name string, line int) *Section {
	return &Section{Name: name, Line: line, byKey: map[string]*Entry{}}
}

// Keys returns the section's own keys (not the inherited DEFAULT ones) in
// the order of their first definition.
func (s *Section) Keys() []string {
	keys := make([]string, len(s.entries))
	for i, e := range s.entries {
		keys[i] = e.Key
	}
	return keys
}

// Entry returns the section's own entry for key (case-insensitive).
func (s *Section) Entry(key string) (Entry, bool) {
	e, ok := s.byKey[strings.ToLower(key)]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Sections returns the section names in file order, without DEFAULT (as
// Python's sections()).
func (f *File) Sections() []string {
	names := make([]string, len(f.sections))
	for i, s := range f.sections {
		names[i] = s.Name
	}
	return names
}

// HasSection reports whether the file has a section named name (exact
// case). DEFAULT is not a section in this sense, as in Python.
func (f *File) HasSection(name string) bool {
	_, ok := f.byName[name]
	return ok
}

// Section returns the named section, or nil. Section(DefaultSection)
// returns the DEFAULT section (never nil).
func (f *File) Section(name string) *Section {
	if name == DefaultSection {
		return f.defaults
	}
	return f.byName[name]
}

// Options returns the keys visible in section: its own, then the
// inherited DEFAULT ones it does not override (Python's options()).
func (f *File) Options(section string) []string {
	s := f.Section(section)
	if s == nil {
		return nil
	}
	keys := s.Keys()
	if s != f.defaults {
		for _, e := range f.defaults.entries {
			if _, own := s.byKey[e.Key]; !own {
				keys = append(keys, e.Key)
			}
		}
	}
	return keys
}

// Raw returns the uninterpolated entry for key in section, falling back
// to DEFAULT; like Python's has_option, nothing is found in a section the
// file does not have.
func (f *File) Raw(section, key string) (Entry, bool) {
	s := f.Section(section)
	if s == nil {
		return Entry{}, false
	}
	key = strings.ToLower(key)
	if e, ok := s.byKey[key]; ok {
		return *e, true
	}
	if e, ok := f.defaults.byKey[key]; ok {
		return *e, true
	}
	return Entry{}, false
}

// Get returns the interpolated value of key in section (see Interpolate).
// A missing key is an *Error wrapping ErrMissing.
func (f *File) Get(section, key string) (string, error) {
	e, ok := f.Raw(section, key)
	if !ok {
		return "", &Error{Source: Source{File: f.Name}, Section: section, Key: strings.ToLower(key), Err: ErrMissing, Msg: "no such key"}
	}
	return f.Interpolate(section, e)
}

// Interpolate expands e's value as Python 2's ConfigParser.get does, with
// the keys of section and DEFAULT as variables.
//
// A value is expanded only when it contains "%(": then "%(name)s" is
// replaced by the raw value of name (case-insensitive; "__name__" is the
// section name), "%%" becomes "%", and any other "%" is an error. The
// whole value is expanded again while it still contains "%(", at most 10
// times; a value still holding "%(" after that is an error (a reference
// loop, or nesting deeper than Python allows). A value without "%(" is
// returned unchanged, so "50%" and "100%%" stay as written, exactly as
// the original framework read them.
//
// Error messages never quote values (they may be passwords).
func (f *File) Interpolate(section string, e Entry) (string, error) {
	value := e.Value
	for range maxInterpolationDepth {
		if !strings.Contains(value, "%(") {
			return value, nil
		}
		next, err := f.substitute(section, value)
		if err != nil {
			return "", &Error{Source: Source{File: f.Name, Line: e.Line}, Section: section, Key: e.Key, Err: ErrInterpolation, Msg: err.Error()}
		}
		value = next
	}
	if strings.Contains(value, "%(") {
		return "", &Error{Source: Source{File: f.Name, Line: e.Line}, Section: section, Key: e.Key, Err: ErrInterpolation,
			Msg: fmt.Sprintf("interpolation deeper than %d levels (a %%(key)s reference loop?)", maxInterpolationDepth)}
	}
	return value, nil
}

// substitute does one pass of Python's `value % vars`.
func (f *File) substitute(section, value string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(value) {
			return "", errors.New(`"%" at the end of the value: write "%%" for a literal "%"`)
		}
		switch value[i+1] {
		case '%':
			b.WriteByte('%')
			i++
		case '(':
			end := strings.IndexByte(value[i+2:], ')')
			if end < 0 {
				return "", errors.New(`unterminated "%(" reference: write "%(key)s"`)
			}
			name := value[i+2 : i+2+end]
			j := i + 2 + end + 1 // after ')'
			if j >= len(value) || value[j] != 's' {
				return "", fmt.Errorf(`reference %%(%s) must be followed by "s"`, name)
			}
			v, ok := f.variable(section, strings.ToLower(name))
			if !ok {
				return "", fmt.Errorf("%%(%s)s refers to key %q, which is not in [%s] or [%s]", name, strings.ToLower(name), section, DefaultSection)
			}
			b.WriteString(v)
			i = j
		default:
			return "", errors.New(`"%" must start "%(key)s" or "%%": write "%%" for a literal "%"`)
		}
	}
	return b.String(), nil
}

func (f *File) variable(section, name string) (string, bool) {
	if e, ok := f.Raw(section, name); ok {
		return e.Value, true
	}
	if name == "__name__" && section != DefaultSection && f.Section(section) != nil {
		return section, true
	}
	return "", false
}

// isSpace is Python 2's str.isspace for one byte.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

const spaces = " \t\n\r\v\f"

// Parse reads an INI file with the rules of Python 2's ConfigParser,
// which the original framework used; name is used in messages.
//
//   - Blank lines, and lines whose first character is '#' or ';', are
//     comments; so is a line starting with the word "rem" (any case).
//   - "[name]" at the start of a line opens a section; anything after the
//     ']' is ignored. A repeated section is merged into the first (with a
//     warning). [DEFAULT] holds keys that every section inherits.
//   - "key = value" or "key: value": the key ends at the first '=' or ':'
//     and is trimmed and lower-cased; the value is trimmed. The first ';'
//     of the value starts a comment only if whitespace precedes it
//     ("a;b" is kept). A value of exactly "" is empty. A repeated key
//     replaces the earlier value (with a warning).
//   - A line starting with whitespace after a key continues its value: it
//     is trimmed and appended after "\n" (even after blank or comment
//     lines, as in Python 2).
//   - A key line before any section header is an error "no section
//     header", which stops the parsing (as in Python); any other line is
//     a syntax error. All syntax errors are reported, as Errors, each an
//     *Error with file:line.
//
// CRLF line ends and a leading UTF-8 byte order mark are accepted.
// Values are interpolated when read with Get (see Interpolate).
func Parse(name string, r io.Reader) (*File, error) {
	f := &File{Name: name, defaults: newSection(DefaultSection, 0), byName: map[string]*Section{}}
	br := bufio.NewReader(r)
	var (
		cur     *Section // nil before the first header
		curKey  *Entry   // the key continuation lines extend
		lineno  int
		errs    []error
		seenDef bool
	)
	for {
		line, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, fmt.Errorf("%s: %w", name, rerr)
		}
		if line == "" && rerr == io.EOF {
			break // ReadString returns the last line without '\n' first
		}
		lineno++
		line = strings.TrimSuffix(line, "\n")
		if lineno == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		pos := Source{File: name, Line: lineno}

		// Comment or blank line?
		if strings.Trim(line, spaces) == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if (line[0] == 'r' || line[0] == 'R') && strings.EqualFold(strings.Fields(line)[0], "rem") {
			continue
		}
		// Continuation line?
		if isSpace(line[0]) && cur != nil && curKey != nil {
			if v := strings.Trim(line, spaces); v != "" {
				curKey.Value += "\n" + v
			}
			continue
		}
		// Section header?
		if line[0] == '[' {
			if end := strings.IndexByte(line, ']'); end > 1 {
				sect := line[1:end]
				switch {
				case sect == DefaultSection:
					cur = f.defaults
					if seenDef {
						f.warn(pos, sect, "", fmt.Sprintf("section repeated (first at line %d): merged, later keys win", cur.Line))
					} else {
						cur.Line = lineno
						seenDef = true
					}
				case f.byName[sect] != nil:
					cur = f.byName[sect]
					f.warn(pos, sect, "", fmt.Sprintf("section repeated (first at line %d): merged, later keys win", cur.Line))
				default:
					cur = newSection(sect, lineno)
					f.sections = append(f.sections, cur)
					f.byName[sect] = cur
				}
				curKey = nil
				continue
			}
		}
		if cur == nil {
			return nil, Join(&Error{Source: pos, Err: ErrNoSectionHeader, Msg: "no section header"})
		}
		// Option line?
		if sep := strings.IndexAny(line, ":="); sep > 0 && !isSpace(line[0]) {
			key := strings.ToLower(strings.TrimRight(line[:sep], spaces))
			value := strings.TrimLeft(line[sep+1:], spaces)
			if semi := strings.IndexByte(value, ';'); semi >= 0 {
				// Python looks at value[semi-1], which for semi == 0 is the
				// last character of the line.
				prev := byte(0)
				if semi > 0 {
					prev = value[semi-1]
				} else {
					prev = value[len(value)-1]
				}
				if isSpace(prev) {
					value = value[:semi]
				}
			}
			value = strings.Trim(value, spaces)
			if value == `""` {
				value = ""
			}
			if old, ok := cur.byKey[key]; ok {
				f.warn(pos, cur.Name, key, fmt.Sprintf("key repeated (first at line %d): the later value wins", old.Line))
				old.Value, old.Line = value, lineno
				curKey = old
			} else {
				e := &Entry{Section: cur.Name, Key: key, Value: value, Line: lineno}
				cur.entries = append(cur.entries, e)
				cur.byKey[key] = e
				curKey = e
			}
			continue
		}
		errs = append(errs, &Error{Source: pos, Section: cur.Name, Err: ErrSyntax,
			Msg: `syntax error: expected "key = value", "key: value", "[section]", a comment, or an indented continuation`})
	}
	if err := Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// ReadFile parses the INI file at path (see Parse). Its error, the
// file cannot be read or is not INI, is one to stop at: nothing of the
// file can be merged, and validating the defaults would only mislead.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return Parse(path, fh)
}

func (f *File) warn(src Source, section, key, msg string) {
	f.Warnings = append(f.Warnings, Warning{Source: src, Section: section, Key: key, Msg: msg})
}
