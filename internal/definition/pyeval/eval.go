package pyeval

import (
	"cmp"
	"errors"
	"regexp"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"time"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// DefaultMaxSteps bounds the Starlark execution steps of one definition
// file. Real definitions take a few thousand; the bound turns an endless
// loop into an error instead of a hung master.
const DefaultMaxSteps = 5_000_000

// DefaultMaxMemory bounds the heap growth while one file is evaluated.
// Starlark caps a single allocation at 1 GiB but not their sum, so a
// definition such as [s * 1000 for i in range(10**6)] would exhaust the
// machine; a watchdog cancels it instead.
const DefaultMaxMemory = 512 << 20

// fileOptions accept the Python the definitions are written in: while
// loops, top-level if/for and reassigned globals. Recursion stays off:
// Starlark would recurse on the Go stack, and no definition needs it.
var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

// evaluator evaluates one definition file.
type evaluator struct {
	file     string // name used in positions: the path relative to the repo
	rep      Reporter
	thread   *starlark.Thread
	nextID   uint64
	maxSteps uint64
	// stepsLine is where the step limit stopped the evaluation.
	stepsLine int
	// maxMemory bounds heap growth; memExceeded is set when it stopped the
	// evaluation.
	maxMemory   uint64
	memExceeded atomic.Bool
}

// line returns the line of the definition file being executed: the
// innermost call frame that is in the file (builtins have no position).
func (ev *evaluator) line() int {
	if ev.thread == nil {
		return 0
	}
	for i := range ev.thread.CallStackDepth() {
		fr := ev.thread.CallFrame(i)
		if fr.Pos.IsValid() && fr.Pos.Line > 0 && fr.Pos.Filename() == ev.file {
			return int(fr.Pos.Line)
		}
	}
	return 0
}

// evaluate runs src and calls its entry function (getCluster or
// getTestSuite), which must return an instance of want. Problems are
// reported; the result is nil when there is none to convert.
func (ev *evaluator) evaluate(src []byte, entry string, want *Class) *Object {
	text, errs := blankImports(string(src))
	for _, e := range errs {
		ev.rep.Errorf(e.line, "%s", e.msg)
	}
	if len(errs) > 0 {
		return nil
	}
	predeclared := ev.predeclared()
	f, prog, err := starlark.SourceProgramOptions(fileOptions, ev.file, text, predeclared.Has)
	if err != nil {
		ev.reportCompileError(err, text)
		return nil
	}
	if !definesFunction(f, entry) {
		ev.rep.Errorf(0, "no %s() function: a %s definition file must define %s() returning a %s",
			entry, strings.ToLower(want.name), entry, want.name)
		return nil
	}
	ev.thread = &starlark.Thread{
		Name: ev.file,
		Load: func(*starlark.Thread, string) (starlark.StringDict, error) {
			return nil, errors.New("load() is not allowed in definition files")
		},
		Print: func(*starlark.Thread, string) {}, // print() is harmless; its output goes nowhere
	}
	ev.thread.SetMaxExecutionSteps(ev.maxSteps)
	ev.thread.OnMaxSteps = func(th *starlark.Thread) {
		ev.stepsLine = ev.line()
		th.Cancel("too many steps")
	}
	defer ev.watchMemory()()
	globals, err := prog.Init(ev.thread, predeclared)
	if err != nil {
		ev.reportEvalError(err)
		return nil
	}
	// The entry function runs against unfrozen globals: with Python
	// semantics a module-level list may be mutated inside it.
	fn, ok := globals[entry].(starlark.Callable)
	if !ok {
		ev.rep.Errorf(0, "%s is a %s, not a function", entry, globals[entry].Type())
		return nil
	}
	v, err := starlark.Call(ev.thread, fn, nil, nil)
	if err != nil {
		ev.reportEvalError(err)
		return nil
	}
	root := AsObject(v, want)
	if root == nil {
		got := "None"
		if v != starlark.None {
			got = article(v.Type()) + " " + Describe(v)
		}
		ev.rep.Errorf(functionLine(f, entry), "%s() returned %s, want a %s", entry, got, want.name)
		return nil
	}
	return root
}

func article(s string) string {
	if strings.ContainsRune("aeiouAEIOU", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

// definesFunction reports whether a top-level def binds name.
func definesFunction(f *syntax.File, name string) bool {
	return functionLine(f, name) > 0
}

func functionLine(f *syntax.File, name string) int {
	for _, st := range f.Stmts {
		if d, ok := st.(*syntax.DefStmt); ok && d.Name.Name == name {
			return int(d.Def.Line)
		}
	}
	return 0
}

var py2Print = regexp.MustCompile(`^\s*print\s+[^\s(=]`)

func (ev *evaluator) reportCompileError(err error, text string) {
	var se syntax.Error
	var rl resolve.ErrorList
	switch {
	case errors.As(err, &se):
		msg := "syntax error: " + se.Msg
		if line := lineText(text, int(se.Pos.Line)); py2Print.MatchString(line) {
			msg += " (a Python 2 print statement: definitions are evaluated as Starlark, a Python 3 dialect; use print(...))"
		} else if strings.Contains(se.Msg, "reserved") {
			msg += " (definitions are evaluated as Starlark: class, try, with, import and similar Python statements are not available)"
		}
		ev.rep.Errorf(int(se.Pos.Line), "%s", msg)
	case errors.As(err, &rl):
		for _, e := range rl {
			ev.rep.Errorf(int(e.Pos.Line), "%s", e.Msg)
		}
	default:
		ev.rep.Errorf(0, "%v", err)
	}
}

func lineText(text string, line int) string {
	lines := strings.Split(text, "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	return lines[line-1]
}

// reportEvalError reports a runtime error at the innermost line of the
// definition file on the call stack.
func (ev *evaluator) reportEvalError(err error) {
	var ee *starlark.EvalError
	if ev.memExceeded.Load() {
		line := 0
		if errors.As(err, &ee) {
			line = ev.stackLine(ee.CallStack)
		}
		ev.rep.Errorf(line, "evaluation stopped: it used more than %d MiB of memory", ev.maxMemory>>20)
		return
	}
	if ev.thread.ExecutionSteps() >= ev.maxSteps {
		ev.rep.Errorf(ev.stepsLine, "evaluation stopped after %d steps: an endless loop?", ev.maxSteps)
		return
	}
	if errors.As(err, &ee) {
		ev.rep.Errorf(ev.stackLine(ee.CallStack), "%s", ee.Msg)
		return
	}
	ev.rep.Errorf(0, "%v", err)
}

func (ev *evaluator) stackLine(stack starlark.CallStack) int {
	for i := len(stack) - 1; i >= 0; i-- {
		if p := stack[i].Pos; p.IsValid() && p.Line > 0 && p.Filename() == ev.file {
			return int(p.Line)
		}
	}
	return 0
}

// watchMemory cancels the evaluation when the heap grows by more than
// maxMemory; it returns the function that stops watching.
func (ev *evaluator) watchMemory() (stop func()) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := heap()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if h := heap(); h > base && h-base > ev.maxMemory {
					ev.memExceeded.Store(true)
					ev.thread.Cancel("memory limit")
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// Reporter receives the problems of one file, at their line (0: the
// file as a whole).
type Reporter interface {
	Errorf(line int, format string, args ...any)
	Warnf(line int, format string, args ...any)
}

// Limits bound the evaluation of one file; zero values mean the defaults.
type Limits struct {
	MaxSteps, MaxMemory uint64
}

// Evaluate evaluates a definition file, named file in positions (the path
// relative to its repository), and calls its entry function (getCluster or
// getTestSuite), which must return an instance of want. Problems go to
// rep; the result is nil when there is no object to convert.
func Evaluate(file string, src []byte, entry string, want *Class, lim Limits, rep Reporter) *Object {
	ev := &evaluator{file: file, rep: rep,
		maxSteps: cmp.Or(lim.MaxSteps, DefaultMaxSteps), maxMemory: cmp.Or(lim.MaxMemory, DefaultMaxMemory)}
	return ev.evaluate(src, entry, want)
}
