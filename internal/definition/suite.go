package definition

import (
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/xrdtest/xrdtest/internal/cron"
	"github.com/xrdtest/xrdtest/internal/definition/pyeval"
)

// jobOptions are APScheduler job options that the original passed through
// in the schedule dict; they mean nothing to us.
var jobOptions = []string{"misfire_grace_time", "coalesce", "max_runs", "max_instances", "name"}

// suiteEnv is what converting a suite needs besides the suite itself.
type suiteEnv struct {
	scripts  scriptEnv
	folder   string // the suite's folder name
	dirRel   string // the suite's folder relative to the repo root
	clusters map[string]*Cluster
	broken   map[string]string // cluster name -> file of a cluster that failed to load
}

func convertSuite(rep reporter, root *pyeval.Object, env suiteEnv) *Suite {
	c := &conv{rep: rep}
	s := &Suite{File: rep.file, Repo: rep.repo, Dir: env.dirRel}
	s.Name = c.str(root, "name")
	switch {
	case s.Name == "":
		c.errorf(root.LineOf("name"), "the test suite has no name: use TestSuite(%q)", env.folder)
	case strings.ContainsAny(s.Name, " \t\r\n"):
		c.errorf(root.LineOf("name"), "test suite name %q contains blanks", s.Name)
	case !validName(s.Name):
		c.errorf(root.LineOf("name"), "invalid test suite name %q: use letters, digits, '_', '.' and '-'", s.Name)
	case s.Name != env.folder:
		c.warnf(root.LineOf("name"), "test suite name %q differs from its folder name %q", s.Name, env.folder)
	}
	s.DescName = c.str(root, "descName")
	c.suiteClusters(s, root, env)
	c.suiteTests(s, root, env)
	c.suiteSchedule(s, root)

	var err error
	if s.Initialize, err = env.scripts.resolve(c.str(root, "initialize")); err != nil {
		c.errorf(root.LineOf("initialize"), "initialize: %v", err)
	} else if s.Initialize == nil {
		c.errorf(root.LineOf("initialize"), "no initialize script: set ts.initialize (e.g. \"file://suite_init.sh\" or an inline \"#!/bin/bash\\n...\")")
	}
	if s.Finalize, err = env.scripts.resolve(c.str(root, "finalize")); err != nil {
		c.errorf(root.LineOf("finalize"), "finalize: %v", err)
	}

	s.Logs = c.strList(root, "logs")
	for _, l := range s.Logs {
		p := strings.ReplaceAll(l, "@slavename@", "host")
		if !path.IsAbs(p) || strings.ContainsAny(l, "\x00\r\n") || slices.Contains(strings.Split(p, "/"), "..") {
			c.errorf(root.LineOf("logs"), "logs: %q is not a clean absolute path on the slaves", l)
		}
	}
	s.AlertEmails = c.strList(root, "alert_emails")
	for _, a := range s.AlertEmails {
		if _, err := mail.ParseAddress(a); err != nil {
			c.errorf(root.LineOf("alert_emails"), "alert_emails: %q is not an e-mail address", a)
		}
	}
	s.AlertSuccess = c.alertPolicy(root, "alert_success")
	s.AlertFailure = c.alertPolicy(root, "alert_failure")
	s.StageTimeout = c.stageTimeout(root)
	s.Retries = c.retries(root)
	s.HoldOnFailure = c.holdOnFailure(root)
	s.Faults = c.faultSchedule(root)
	if c.errs > 0 {
		return nil
	}
	return s
}

func (c *conv) suiteClusters(s *Suite, root *pyeval.Object, env suiteEnv) {
	s.Clusters = c.strList(root, "clusters")
	if len(s.Clusters) == 0 {
		c.errorf(root.LineOf("clusters"), "no clusters: set ts.clusters to the names of the clusters the suite runs on")
		return
	}
	var hosts []*Host
	resolvable := true
	for i, name := range s.Clusters {
		if slices.Contains(s.Clusters[:i], name) {
			c.errorf(root.LineOf("clusters"), "cluster %q is listed twice", name)
			resolvable = false
			continue
		}
		cl, ok := env.clusters[name]
		switch {
		case ok:
			hosts = append(hosts, cl.Hosts...)
		case env.broken[name] != "":
			resolvable = false
			c.errorf(root.LineOf("clusters"), "cluster %q failed to load (see the errors of %s)", name, env.broken[name])
		default:
			resolvable = false
			c.errorf(root.LineOf("clusters"), "unknown cluster %q (known: %s)", name, knownNames(env.clusters))
		}
	}
	// A slave is identified by its host name, so one session cannot have
	// two machines of the same name.
	owner := map[string]string{}
	for _, name := range s.Clusters {
		cl := env.clusters[name]
		if cl == nil {
			continue
		}
		for _, h := range cl.Hosts {
			if prev, dup := owner[h.Name]; dup && prev != name {
				resolvable = false
				c.errorf(root.LineOf("clusters"), "host %q is in both cluster %q and cluster %q: a suite cannot use both", h.Name, prev, name)
			}
			owner[h.Name] = name
		}
	}
	machines := c.strList(root, "machines")
	if !resolvable {
		s.Machines = machines
		return
	}
	if len(machines) == 0 {
		for _, h := range hosts {
			s.Machines = append(s.Machines, h.Name)
		}
		return
	}
	s.Machines = []string{}
	for _, m := range machines {
		full, err := resolveMachine(m, hosts)
		if err != nil {
			c.errorf(root.LineOf("machines"), "machines: %v", err)
			continue
		}
		if slices.Contains(s.Machines, full) {
			c.warnf(root.LineOf("machines"), "machines: %q is listed twice", full)
			continue
		}
		s.Machines = append(s.Machines, full)
	}
}

// resolveMachine maps a machine entry to a full host name: the name itself
// or a unique first label (2012 definitions used short names).
func resolveMachine(m string, hosts []*Host) (string, error) {
	var matches []string
	for _, h := range hosts {
		if h.Name == m {
			return m, nil
		}
		if first, _, _ := strings.Cut(h.Name, "."); first == m {
			matches = append(matches, h.Name)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		names := make([]string, len(hosts))
		for i, h := range hosts {
			names[i] = h.Name
		}
		return "", fmt.Errorf("unknown machine %q: not a host of the suite's clusters (%s)", m, strings.Join(names, ", "))
	default:
		return "", fmt.Errorf("machine %q is ambiguous: it could be %s", m, strings.Join(matches, " or "))
	}
}

func knownNames(clusters map[string]*Cluster) string {
	if len(clusters) == 0 {
		return "none loaded"
	}
	names := make([]string, 0, len(clusters))
	for n := range clusters {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// suiteTests reads each listed case's tc/<case>/{init,run,finalize}.sh.
func (c *conv) suiteTests(s *Suite, root *pyeval.Object, env suiteEnv) {
	names := c.strList(root, "tests")
	line := root.LineOf("tests")
	if len(names) == 0 {
		c.errorf(line, "no tests: set ts.tests to the names of the case folders under tc/")
		return
	}
	s.Tests = []TestCase{}
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			c.errorf(line, "tests: case %q is listed twice", name)
			continue
		}
		seen[name] = true
		if !validName(name) {
			c.errorf(line, "tests: invalid case name %q: use letters, digits, '_', '.' and '-'", name)
			continue
		}
		tc := TestCase{Name: name}
		dir := filepath.Join(env.scripts.dir, "tc", name)
		read := func(file string) (*Script, bool) {
			rel, text, err := env.scripts.read(filepath.Join(dir, file))
			if errors.Is(err, fs.ErrNotExist) {
				return nil, false
			}
			if err != nil {
				c.errorf(line, "tests: case %q: %s: %v", name, file, err)
				return nil, true
			}
			return &Script{Path: rel, Text: text}, true
		}
		var ok bool
		if tc.Run, ok = read("run.sh"); !ok {
			c.errorf(line, "tests: case %q has no %s", name, path.Join(env.dirRel, "tc", name, "run.sh"))
			continue
		}
		if tc.Init, ok = read("init.sh"); !ok {
			c.warnf(line, "tests: case %q has no init.sh: its init stage does nothing", name)
		}
		tc.Finalize, _ = read("finalize.sh")
		s.Tests = append(s.Tests, tc)
	}
}

func (c *conv) suiteSchedule(s *Suite, root *pyeval.Object) {
	line := root.LineOf("schedule")
	d, ok := root.Get("schedule").(*starlark.Dict)
	if !ok {
		c.typeError(root, "schedule", "a dict such as dict(hour='3')", root.Get("schedule"))
		return
	}
	s.Schedule = map[string]any{}
	fields := map[string]string{}
	for _, kv := range d.Items() {
		key, ok := starlark.AsString(kv[0])
		if !ok {
			c.errorf(line, "schedule: key %s must be a string", kv[0])
			continue
		}
		// Job options are checked first: they take any type (coalesce=True,
		// misfire_grace_time=None), and are ignored whatever they hold.
		jobOption := slices.Contains(jobOptions, key)
		if jobOption {
			c.warnf(line, "schedule: %s is an APScheduler job option, not a schedule field: ignored", key)
		}
		var val string
		switch v := kv[1].(type) {
		case starlark.NoneType:
			continue // APScheduler drops fields whose value is None

		case starlark.String:
			val = string(v)
			s.Schedule[key] = val
		case starlark.Int:
			i, _ := v.Int64()
			val = strconv.FormatInt(i, 10)
			s.Schedule[key] = i
		default:
			if !jobOption {
				c.errorf(line, "schedule: %s must be a string or an int, got %s %s", key, v.Type(), pyeval.Describe(v))
			}
			continue
		}
		if !jobOption {
			fields[key] = val
		}
	}
	if d.Len() == 0 {
		c.errorf(line, "no schedule: set ts.schedule, e.g. dict(hour='3') to run daily at 03:00")
		return
	}
	sched, err := cron.Parse(fields)
	if err != nil {
		c.errorf(line, "schedule: %v", err)
		return
	}
	s.Cron = sched
}

func (c *conv) alertPolicy(root *pyeval.Object, attr string) AlertPolicy {
	v := c.str(root, attr)
	switch p := AlertPolicy(v); p {
	case AlertSuite, AlertCase, AlertNone:
		return p
	case "":
		// The original sent no mail for an empty value.
		c.warnf(root.LineOf(attr), "%s is empty: taken as 'NONE' (no mail), as the original did", attr)
		return AlertNone
	default:
		hint := ""
		if up := AlertPolicy(strings.ToUpper(v)); up == AlertSuite || up == AlertCase || up == AlertNone {
			hint = fmt.Sprintf(" (write %q: the value is case-sensitive)", up)
		}
		c.errorf(root.LineOf(attr), "%s %q is invalid: want 'SUITE', 'CASE' or 'NONE'%s", attr, v, hint)
		return ""
	}
}

// MaxRetries bounds ts.retries (and xrdtest run --retries): a case that
// needs more is broken, not flaky.
const MaxRetries = 10

func (c *conv) retries(root *pyeval.Object) int {
	switch v := root.Get("retries").(type) {
	case nil, starlark.NoneType:
		return 0
	case starlark.Int:
		n, ok := v.Int64()
		if !ok || n < 0 || n > MaxRetries {
			c.errorf(root.LineOf("retries"), "retries must be a whole number from 0 to %d, got %v", MaxRetries, v)
			return 0
		}
		return int(n)
	default:
		c.typeError(root, "retries", "a whole number", v)
		return 0
	}
}

// MaxHold bounds ts.hold_on_failure; the master's [session] max_hold
// bounds it further.
const MaxHold = 7 * 24 * time.Hour

// holdOnFailure reads ts.hold_on_failure: a duration such as '30m', or
// seconds; None or 0: no hold.
func (c *conv) holdOnFailure(root *pyeval.Object) time.Duration {
	var d time.Duration
	switch v := root.Get("hold_on_failure").(type) {
	case nil, starlark.NoneType:
		return 0
	case starlark.String:
		var err error
		if d, err = time.ParseDuration(string(v)); err != nil {
			c.errorf(root.LineOf("hold_on_failure"), "hold_on_failure %q is not a duration such as '30m' or '2h'", string(v))
			return 0
		}
	case starlark.Int:
		n, ok := v.Int64()
		if !ok || n > int64(MaxHold/time.Second) {
			n = -1
		}
		d = time.Duration(n) * time.Second
	default:
		c.typeError(root, "hold_on_failure", "a duration such as '30m'", v)
		return 0
	}
	if d < 0 || d > MaxHold {
		c.errorf(root.LineOf("hold_on_failure"), "hold_on_failure must be from 0 to %s, got %s", MaxHold, pyeval.Describe(root.Get("hold_on_failure")))
		return 0
	}
	return d
}

func (c *conv) stageTimeout(root *pyeval.Object) float64 {
	var secs float64
	switch v := root.Get("stage_timeout").(type) {
	case nil, starlark.NoneType:
		return 0
	case starlark.Int:
		i, _ := v.Int64()
		secs = float64(i)
	case starlark.Float:
		secs = float64(v)
	default:
		c.typeError(root, "stage_timeout", "a number of seconds", v)
		return 0
	}
	if secs <= 0 {
		c.errorf(root.LineOf("stage_timeout"), "stage_timeout must be a positive number of seconds, got %v", secs)
		return 0
	}
	return secs
}

// faultSchedule reads ts.faults, e.g. dict(seed=7, interval='2s',
// during=['run'], kinds=['partition', 'pause', 'kill:xrootd']).
func (c *conv) faultSchedule(root *pyeval.Object) *FaultSchedule {
	v := root.Get("faults")
	if v == nil || v == starlark.None {
		return nil
	}
	line := root.LineOf("faults")
	d, ok := v.(*starlark.Dict)
	if !ok {
		c.typeError(root, "faults", "a dict such as dict(interval='2s', during=['run'], kinds=['partition'])", v)
		return nil
	}
	fs := &FaultSchedule{}
	strs := func(key string, v starlark.Value) []string {
		l, ok := v.(*starlark.List)
		if !ok || l.Len() == 0 {
			c.errorf(line, "faults: %s must be a non-empty list of strings, got %s %s", key, v.Type(), pyeval.Describe(v))
			return nil
		}
		var out []string
		for i := range l.Len() {
			s, ok := starlark.AsString(l.Index(i))
			if !ok {
				c.errorf(line, "faults: %s[%d] must be a string, got %s", key, i, l.Index(i).Type())
				continue
			}
			out = append(out, s)
		}
		return out
	}
	for _, kv := range d.Items() {
		key, _ := starlark.AsString(kv[0])
		switch key {
		case "seed":
			var n int64
			i, ok := kv[1].(starlark.Int)
			if ok {
				n, ok = i.Int64()
			}
			if !ok || n < 0 {
				c.errorf(line, "faults: seed must be a whole number >= 0, got %s", pyeval.Describe(kv[1]))
				continue
			}
			fs.Seed = n
		case "interval":
			secs := 0.0
			switch iv := kv[1].(type) {
			case starlark.String:
				dur, err := time.ParseDuration(string(iv))
				if err != nil {
					c.errorf(line, "faults: interval %q is not a duration such as '2s'", string(iv))
					continue
				}
				secs = dur.Seconds()
			case starlark.Int:
				n, _ := iv.Int64()
				secs = float64(n)
			case starlark.Float:
				secs = float64(iv)
			}
			if secs < 0.1 || secs > 3600 {
				c.errorf(line, "faults: interval must be from 0.1 s to 1 h (a duration such as '2s' or seconds), got %s", pyeval.Describe(kv[1]))
				continue
			}
			fs.Interval = secs
		case "during":
			for _, k := range strs(key, kv[1]) {
				if !slices.Contains([]string{"suite_init", "init", "run", "finalize", "suite_finalize"}, k) {
					c.errorf(line, "faults: during: %q is not a stage kind (suite_init, init, run, finalize, suite_finalize)", k)
				}
				fs.During = append(fs.During, k)
			}
		case "kinds":
			for _, k := range strs(key, kv[1]) {
				name, arg, hasArg := strings.Cut(k, ":")
				switch {
				case slices.Contains(FaultKinds, name) && !hasArg:
				case slices.Contains(FaultKinds, name+":") && hasArg && arg != "":
				default:
					c.errorf(line, "faults: kinds: %q is not one of partition, isolate, pause, loss:PERCENT, rate:RATE, delay:DURATION, kill:PROCESS", k)
				}
				fs.Kinds = append(fs.Kinds, k)
			}
		default:
			c.errorf(line, "faults: unknown key %q (seed, interval, during, kinds)", key)
		}
	}
	if fs.Interval == 0 || len(fs.During) == 0 || len(fs.Kinds) == 0 {
		c.errorf(line, "faults: interval, during and kinds are required, e.g. dict(interval='2s', during=['run'], kinds=['partition'])")
	}
	return fs
}
