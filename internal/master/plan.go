package master

import (
	"github.com/xrdtest/xrdtest/internal/definition"
)

// stageKind says where a stage sits in a session; the failure rules
// depend on it.
type stageKind int

const (
	suiteInit stageKind = iota
	caseInit
	caseRun
	caseFinalize
	suiteFinalize
)

// plannedStage is one stage of a session's plan.
type plannedStage struct {
	index  int
	name   string // normative: suite_init, <case>:init, <case>:run, <case>:finalize, suite_finalize
	kind   stageKind
	cas    string
	script *definition.Script // nil: no script, the stage is a no-op that passes
}

// plan lists the stages of a session of s in execution order: suite
// initialize, then init, run and finalize of each case, then suite
// finalize. cases restricts and orders the test cases (nil: all).
func plan(s *definition.Suite, cases []string) []plannedStage {
	var out []plannedStage
	add := func(name string, kind stageKind, cas string, script *definition.Script) {
		out = append(out, plannedStage{index: len(out), name: name, kind: kind, cas: cas, script: script})
	}
	add("suite_init", suiteInit, "", s.Initialize)
	for _, tc := range s.Tests {
		if cases != nil && !contains(cases, tc.Name) {
			continue
		}
		add(tc.Name+":init", caseInit, tc.Name, tc.Init)
		add(tc.Name+":run", caseRun, tc.Name, tc.Run)
		add(tc.Name+":finalize", caseFinalize, tc.Name, tc.Finalize)
	}
	add("suite_finalize", suiteFinalize, "", s.Finalize)
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
