package definition

import (
	"cmp"
	"fmt"
	"slices"
)

// Severity tells whether a diagnostic prevents the definition from loading.
type Severity int

const (
	// Warning: loaded, but probably not what the author meant, or a form the
	// original framework accepted that we keep accepting.
	Warning Severity = iota
	// Error: the definition (cluster or suite) is not loaded.
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// Diagnostic is one problem found while loading, located in a file (relative
// to its repository root) and, where meaningful, a 1-based line (0: the file
// as a whole).
type Diagnostic struct {
	Severity Severity `json:"-"`
	// Repo is the root directory of the repository the file belongs to.
	Repo    string `json:"-"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (d Diagnostic) String() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", d.File, d.Line, d.Severity, d.Message)
	}
	return fmt.Sprintf("%s: %s: %s", d.File, d.Severity, d.Message)
}

// Diagnostics is a list of diagnostics in a stable order.
type Diagnostics []Diagnostic

// Errors returns only the errors.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(Error) }

// Warnings returns only the warnings.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(Warning) }

func (ds Diagnostics) filter(s Severity) Diagnostics {
	out := Diagnostics{}
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// sort orders diagnostics by repository, file and line; the message breaks
// ties so that output is identical across runs.
func (ds Diagnostics) sort() {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Repo, b.Repo), cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line), cmp.Compare(a.Severity, b.Severity), cmp.Compare(a.Message, b.Message))
	})
}

// reporter collects diagnostics for one file.
type reporter struct {
	repo, file string
	out        *Diagnostics
}

func (r reporter) Errorf(line int, format string, args ...any) {
	r.add(Error, line, fmt.Sprintf(format, args...))
}

func (r reporter) Warnf(line int, format string, args ...any) {
	r.add(Warning, line, fmt.Sprintf(format, args...))
}

func (r reporter) add(s Severity, line int, msg string) {
	*r.out = append(*r.out, Diagnostic{Severity: s, Repo: r.repo, File: r.file, Line: line, Message: msg})
}
