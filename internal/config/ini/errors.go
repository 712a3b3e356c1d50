package ini

import (
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Sentinel errors of reading a file (and ErrMissing, of the settings
// it lacks too), wrapped by *Error.
var (
	// ErrSyntax: a line of an INI file is none of header, key, comment or
	// continuation.
	ErrSyntax = errors.New("syntax error")
	// ErrNoSectionHeader: a key before the first [section].
	ErrNoSectionHeader = errors.New("no section header")
	// ErrInterpolation: a bad "%" or a "%(key)s" that cannot be expanded.
	ErrInterpolation = errors.New("interpolation error")
	// ErrMissing: a required key or section is absent.
	ErrMissing = errors.New("missing setting")
)

// Source tells where a setting's value came from: a file and line, or an
// origin such as "default", "flag --port" or "env XRDTEST_PORT".
type Source struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Origin string `json:"origin,omitempty"`
}

// DefaultSource is the source of a value nobody set.
var DefaultSource = Source{Origin: "default"}

// String returns "file:line", "file", or the origin ("default" when empty).
func (s Source) String() string {
	switch {
	case s.File != "" && s.Line > 0:
		return s.File + ":" + strconv.Itoa(s.Line)
	case s.File != "":
		return s.File
	case s.Origin != "":
		return s.Origin
	}
	return "default"
}

// IsDefault reports whether the value is a built-in default.
func (s Source) IsDefault() bool { return s.File == "" && (s.Origin == "" || s.Origin == "default") }

// Error is an error of a file or configuration located at a source and,
// where it applies, a section and key. Its text is "SOURCE: [section] key: message".
// Messages never contain secret values.
type Error struct {
	Source  Source
	Section string
	Key     string
	Err     error // a sentinel: ErrSyntax... here, config.ErrInvalid... for values
	Msg     string
}

func (e *Error) Error() string { return locate(e.Source, e.Section, e.Key) + e.message() }

func (e *Error) message() string {
	if e.Msg == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Msg
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

// MarshalJSON gives an error the JSON form of a Warning: source, section,
// key, message.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(Warning{Source: e.Source, Section: e.Section, Key: e.Key, Msg: e.message()})
}

// Errors is every error found in a configuration, in file order (see
// Join). Its text is their texts, one a line; errors.Is and errors.As look
// into each. Parse, and config's Merge, Validate, Load and LoadMaster,
// LoadHypervisor and LoadSlave return one whenever they find an error (a
// file that cannot be read gives the error of reading it).
type Errors []error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error { return es }

// MarshalJSON gives a list of objects: an *Error as in Error.MarshalJSON,
// any other error as its message alone.
func (es Errors) MarshalJSON() ([]byte, error) {
	out := make([]any, len(es))
	for i, e := range es {
		if ce, ok := e.(*Error); ok {
			out[i] = ce
		} else {
			out[i] = struct {
				Msg string `json:"message"`
			}{e.Error()}
		}
	}
	return json.Marshal(out)
}

// Join returns errs as Errors in file order, or nil when none is left:
// nils are dropped and Errors flattened; the errors located in a file
// come first, by file (in the order they first appear) and line, then the
// others (defaults, environment, flags, errors without a location) in the
// order given. Errors on one line keep the order given.
func Join(errs ...error) error {
	var out Errors
	var flatten func([]error)
	flatten = func(errs []error) {
		for _, err := range errs {
			if es, ok := err.(Errors); ok {
				flatten(es)
			} else if err != nil {
				out = append(out, err)
			}
		}
	}
	flatten(errs)
	if len(out) == 0 {
		return nil
	}
	type entry struct {
		err        error
		file, line int // file: the rank of its file, by first appearance; MaxInt: none
	}
	entries := make([]entry, len(out))
	files := map[string]int{}
	for i, err := range out {
		entries[i] = entry{err: err, file: math.MaxInt}
		var e *Error
		if errors.As(err, &e) && e.Source.File != "" {
			if _, ok := files[e.Source.File]; !ok {
				files[e.Source.File] = len(files)
			}
			entries[i].file, entries[i].line = files[e.Source.File], e.Source.Line
		}
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.file, b.file), cmp.Compare(a.line, b.line))
	})
	for i, e := range entries {
		out[i] = e.err
	}
	return out
}

// Warning is a finding that does not stop a configuration from loading:
// an unknown section or key, a repeated key, an ignored setting.
type Warning struct {
	Source  Source `json:"source"`
	Section string `json:"section,omitempty"`
	Key     string `json:"key,omitempty"`
	Msg     string `json:"message"`
}

// String returns "SOURCE: [section] key: message".
func (w Warning) String() string { return locate(w.Source, w.Section, w.Key) + w.Msg }

func locate(src Source, section, key string) string {
	loc := src.String() + ": "
	switch {
	case section != "" && key != "":
		loc += "[" + section + "] " + key + ": "
	case section != "":
		loc += "[" + section + "]: "
	case key != "":
		loc += key + ": "
	}
	return loc
}
