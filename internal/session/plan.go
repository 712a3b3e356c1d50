package session

import (
	"github.com/xrdtest/xrdtest/internal/definition"
)

// StageKind says where a stage sits in a session; the failure rules
// depend on it.
type StageKind int

// String is the kind's name in metrics: suite_init, init, run, finalize,
// suite_finalize.
func (k StageKind) String() string {
	switch k {
	case SuiteInit:
		return "suite_init"
	case CaseInit:
		return "init"
	case CaseRun:
		return "run"
	case CaseFinalize:
		return "finalize"
	case SuiteFinalize:
		return "suite_finalize"
	}
	return "unknown"
}

// The kinds of stage, in the order a session runs them.
const (
	SuiteInit StageKind = iota
	CaseInit
	CaseRun
	CaseFinalize
	SuiteFinalize
)

// plannedStage is one stage of a session's plan.
type plannedStage struct {
	index  int
	name   string // normative: suite_init, <case>:init, <case>:run, <case>:finalize, suite_finalize
	kind   StageKind
	cas    string
	script *definition.Script // nil: no script, the stage is a no-op that passes
}

// plan lists the stages of a session of s in execution order: suite
// initialize, then init, run and finalize of each case, then suite
// finalize. cases restricts and orders the test cases (nil: all).
func plan(s *definition.Suite, cases []string) []plannedStage {
	var out []plannedStage
	add := func(name string, kind StageKind, cas string, script *definition.Script) {
		out = append(out, plannedStage{index: len(out), name: name, kind: kind, cas: cas, script: script})
	}
	add("suite_init", SuiteInit, "", s.Initialize)
	for _, tc := range s.Tests {
		if cases != nil && !contains(cases, tc.Name) {
			continue
		}
		add(tc.Name+":init", CaseInit, tc.Name, tc.Init)
		add(tc.Name+":run", CaseRun, tc.Name, tc.Run)
		add(tc.Name+":finalize", CaseFinalize, tc.Name, tc.Finalize)
	}
	add("suite_finalize", SuiteFinalize, "", s.Finalize)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// PlannedStage names one stage of a session's plan.
type PlannedStage struct {
	Index int
	Name  string // suite_init, <case>:init, <case>:run, <case>:finalize, suite_finalize
	Case  string // "" for the suite's stages
}

// Plan lists the stages a session of s runs, in order; cases restricts
// and orders the test cases (nil: all). The pages show the stages still
// to come from it.
func Plan(s *definition.Suite, cases []string) []PlannedStage {
	ps := plan(s, cases)
	out := make([]PlannedStage, len(ps))
	for i, p := range ps {
		out[i] = PlannedStage{Index: p.index, Name: p.name, Case: p.cas}
	}
	return out
}
