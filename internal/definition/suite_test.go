package definition

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// suiteRepo is a repository with one valid two-host cluster and one suite
// "ts" whose definition is given; tc/c1 and tc/c2 exist.
func suiteRepo(def string, extra map[string]string) map[string]string {
	files := map[string]string{
		"clusters/cluster_t.py":             body("c.addHost(Host('srv.xrd.test', '10.0.0.5'))", "c.addHost(Host('client.xrd.test', '10.0.0.6'))"),
		"test-suites/ts/test_suite.py":      def,
		"test-suites/ts/suite_init.sh":      "#!/bin/bash\necho init\n",
		"test-suites/ts/tc/c1/init.sh":      "#!/bin/bash\n",
		"test-suites/ts/tc/c1/run.sh":       "#!/bin/bash\necho run c1\n",
		"test-suites/ts/tc/c1/finalize.sh":  "#!/bin/bash\necho fin c1\n",
		"test-suites/ts/tc/c2/run.sh":       "#!/bin/bash\necho run c2\n",
		"test-suites/ts/tc/c2/notes.txt":    "ignored",
		"test-suites/ts/tc/unlisted/run.sh": "#!/bin/bash\nexit 1\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

const suiteHeader = `from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('ts')
    ts.clusters = ['cluster_t']
    ts.tests = ['c1', 'c2']
    ts.schedule = dict(hour='3')
    ts.initialize = 'file://suite_init.sh'
`

// suiteBody appends lines to the body of getTestSuite after suiteHeader
// (whose last line is 8).
func suiteBody(lines ...string) string {
	return suiteHeader + "    " + strings.Join(lines, "\n    ") + "\n    return ts\n"
}

func mustSuite(t *testing.T, set *Set) *Suite {
	t.Helper()
	if len(set.Suites) != 1 || len(set.Diagnostics.Errors()) > 0 {
		t.Fatalf("suite did not load:\n%s", dump(set.Diagnostics))
	}
	return set.Suites[0]
}

func TestSuiteDefaultsAndDerivedValues(t *testing.T) {
	set := loadRepo(t, suiteRepo(suiteBody(), nil))
	s := mustSuite(t, set)
	if !reflect.DeepEqual(s.Machines, []string{"srv.xrd.test", "client.xrd.test"}) {
		t.Errorf("machines = %v, want all hosts in addHost order", s.Machines)
	}
	if s.AlertSuccess != AlertSuite || s.AlertFailure != AlertCase || s.StageTimeout != 0 || s.Finalize != nil {
		t.Errorf("defaults: success %s failure %s timeout %v finalize %v", s.AlertSuccess, s.AlertFailure, s.StageTimeout, s.Finalize)
	}
	if s.Logs == nil || len(s.Logs) != 0 || s.AlertEmails == nil {
		t.Errorf("logs %v alert_emails %v: want empty lists", s.Logs, s.AlertEmails)
	}
	if s.Initialize.Path != "test-suites/ts/suite_init.sh" || s.Initialize.Text != "#!/bin/bash\necho init\n" {
		t.Errorf("initialize = %+v", s.Initialize)
	}
	c1, c2 := s.Tests[0], s.Tests[1]
	if c1.Name != "c1" || c1.Init.Path != "test-suites/ts/tc/c1/init.sh" || !c1.Init.NoOp() || c1.Run.NoOp() || c1.Finalize == nil {
		t.Errorf("c1 = %+v", c1)
	}
	if c2.Init != nil || c2.Finalize != nil || c2.Run.Text != "#!/bin/bash\necho run c2\n" {
		t.Errorf("c2 = %+v", c2)
	}
	wantDiag(t, set.Diagnostics, Warning, 6, `case "c2" has no init.sh`)
	if got := s.Cron.Next(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("next run = %v, want 2026-01-02 03:00:00", got)
	}
}

func TestSuiteForms(t *testing.T) {
	tests := []struct {
		name  string
		def   string
		check func(t *testing.T, s *Suite)
	}{
		{"2012: TestSuite() then name, S/S.py, short machine names", strings.Replace(suiteBody("ts.machines = ['client', 'srv']"), "TestSuite('ts')", "TestSuite()\n    ts.name = 'ts'", 1),
			func(t *testing.T, s *Suite) {
				if !reflect.DeepEqual(s.Machines, []string{"client.xrd.test", "srv.xrd.test"}) {
					t.Errorf("machines = %v", s.Machines)
				}
			}},
		{"keyword name, full machine names", strings.Replace(suiteBody("ts.machines = ['srv.xrd.test']"), "TestSuite('ts')", "TestSuite(name='ts')", 1),
			func(t *testing.T, s *Suite) {
				if !reflect.DeepEqual(s.Machines, []string{"srv.xrd.test"}) {
					t.Errorf("machines = %v", s.Machines)
				}
			}},
		{"inline initialize and finalize", suiteBody("ts.initialize = '  #!/bin/bash\\necho inline'", "ts.finalize = '#!/bin/sh\\n'"),
			func(t *testing.T, s *Suite) {
				if s.Initialize.Path != "" || s.Initialize.Text != "#!/bin/bash\necho inline" || !s.Finalize.NoOp() {
					t.Errorf("initialize %+v finalize %+v", s.Initialize, s.Finalize)
				}
			}},
		{"file:// into a subfolder", suiteBody("ts.finalize = 'file://scripts/fin.sh'"),
			func(t *testing.T, s *Suite) {
				if s.Finalize.Path != "test-suites/ts/scripts/fin.sh" || s.Finalize.Text != "#!/bin/bash\necho fin\n" {
					t.Errorf("finalize = %+v", s.Finalize)
				}
			}},
		{"finalize None", suiteBody("ts.finalize = None"),
			func(t *testing.T, s *Suite) {
				if s.Finalize != nil {
					t.Errorf("finalize = %+v", s.Finalize)
				}
			}},
		{"all attributes", suiteBody("ts.descName = 'A suite'", "ts.logs = ['/var/log/xrootd/@slavename@/xrootd.log']", "ts.alert_emails = ['a@example.org', 'B <b@example.org>']",
			"ts.alert_success = 'NONE'", "ts.alert_failure = 'SUITE'", "ts.stage_timeout = 90", "ts.retries = 2", "ts.hold_on_failure = '30m'", "ts.schedule = dict(second='00', minute=15, hour='*', day='*', month='*')"),
			func(t *testing.T, s *Suite) {
				want := Suite{DescName: "A suite", Logs: []string{"/var/log/xrootd/@slavename@/xrootd.log"}, AlertEmails: []string{"a@example.org", "B <b@example.org>"},
					AlertSuccess: AlertNone, AlertFailure: AlertSuite, StageTimeout: 90, Retries: 2, HoldOnFailure: 30 * time.Minute,
					Schedule: map[string]any{"second": "00", "minute": int64(15), "hour": "*", "day": "*", "month": "*"}}
				got := Suite{DescName: s.DescName, Logs: s.Logs, AlertEmails: s.AlertEmails, AlertSuccess: s.AlertSuccess, AlertFailure: s.AlertFailure, StageTimeout: s.StageTimeout,
					Retries: s.Retries, HoldOnFailure: s.HoldOnFailure, Schedule: s.Schedule}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %+v\nwant %+v", got, want)
				}
			}},
		{"TestCase objects and getTestCases are ignored", suiteBody("tc = TestCase()", "tc.name = 'c1'", "tc.initialize = 'x'", "tc.run = 'y'", "tc.machines = ['srv']") + `
def getTestCases():
    t = TestCase()
    t.name = 'ignored'
    return [t]
`, func(t *testing.T, s *Suite) {
			if len(s.Tests) != 2 {
				t.Errorf("tests = %+v", s.Tests)
			}
		}},
		{"empty alert is the original's no mail", suiteBody("ts.alert_failure = ''"),
			func(t *testing.T, s *Suite) {
				if s.AlertFailure != AlertNone {
					t.Errorf("alert_failure = %q", s.AlertFailure)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := suiteRepo(tt.def, map[string]string{"test-suites/ts/scripts/fin.sh": "#!/bin/bash\necho fin\n"})
			if strings.HasPrefix(tt.name, "2012") {
				files["test-suites/ts/ts.py"] = files["test-suites/ts/test_suite.py"]
				delete(files, "test-suites/ts/test_suite.py")
			}
			set := loadRepo(t, files)
			tt.check(t, mustSuite(t, set))
		})
	}
}

func TestSuiteFileURLs(t *testing.T) {
	root := writeRepo(t, suiteRepo(suiteBody(), nil))
	abs := filepath.Join(root, "test-suites", "ts", "suite_init.sh")
	writeFile := func(def string) *Set {
		files := suiteRepo(def, nil)
		for p, c := range files {
			if err := writeFileAt(root, p, c); err != nil {
				t.Fatal(err)
			}
		}
		return Load(context.Background(), []Repo{{Root: root}}, Options{})
	}
	s := mustSuite(t, writeFile(suiteBody("ts.finalize = 'file://"+abs+"'")))
	if s.Finalize.Path != "test-suites/ts/suite_init.sh" {
		t.Errorf("file:///abs inside the repo: path %q", s.Finalize.Path)
	}
	set := writeFile(suiteBody("ts.finalize = 'file:///etc/passwd'"))
	wantDiag(t, set.Diagnostics, Error, 9, "outside the repository")
	set = writeFile(suiteBody("ts.finalize = 'file://../../../x.sh'"))
	wantDiag(t, set.Diagnostics, Error, 9, "outside the repository")

	// git's files hold remote URLs with credentials: never a script.
	if err := writeFileAt(root, ".git/config", "[remote \"origin\"]\n\turl = https://user:secret@git.example/repo\n"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"file://../../.git/config", "file://" + filepath.Join(root, ".git", "config")} {
		set = writeFile(suiteBody("ts.finalize = '" + ref + "'"))
		wantDiag(t, set.Diagnostics, Error, 9, "inside a .git folder")
		if s := set.Suite("ts"); s != nil && s.Finalize != nil {
			t.Errorf("%s: finalize read: %q", ref, s.Finalize.Text)
		}
	}
}

func TestSuiteHTTPScripts(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/init.sh", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("#!/bin/bash\necho fetched\n")) })
	mux.HandleFunc("/slow.sh", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			panic(http.ErrAbortHandler) // never answer: the client must time out
		case <-time.After(5 * time.Second):
			w.Write([]byte("#!/bin/bash\necho too late\n"))
		}
	})
	for _, tls := range []bool{false, true} {
		var srv *httptest.Server
		if tls {
			srv = httptest.NewTLSServer(mux)
		} else {
			srv = httptest.NewServer(mux)
		}
		defer srv.Close()
		opts := Options{Fetcher: HTTPFetcher{Client: srv.Client()}, FetchTimeout: 200 * time.Millisecond}
		load := func(def string) *Set {
			return Load(context.Background(), []Repo{{Root: writeRepo(t, suiteRepo(def, nil))}}, opts)
		}
		s := mustSuite(t, load(suiteBody("ts.initialize = '"+srv.URL+"/init.sh'")))
		if s.Initialize.Path != srv.URL+"/init.sh" || s.Initialize.Text != "#!/bin/bash\necho fetched\n" {
			t.Errorf("tls=%v: initialize = %+v", tls, s.Initialize)
		}
		set := load(suiteBody("ts.initialize = '" + srv.URL + "/missing.sh'"))
		wantDiag(t, set.Diagnostics, Error, 9, "404")
		start := time.Now()
		set = load(suiteBody("ts.initialize = '" + srv.URL + "/slow.sh'"))
		wantDiag(t, set.Diagnostics, Error, 9, "cannot fetch")
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the fetch timeout was not applied: took %v", d)
		}
	}
}

// TestSuiteMustReject has one case per suite error.
func TestSuiteMustReject(t *testing.T) {
	tests := []struct {
		name  string
		def   string
		extra map[string]string
		line  int
		want  string
	}{
		{"no name", strings.Replace(suiteBody(), "TestSuite('ts')", "TestSuite()", 1), nil, 4, "has no name"},
		{"name with blanks", strings.Replace(suiteBody(), "TestSuite('ts')", "TestSuite('my suite')", 1), nil, 4, "contains blanks"},
		{"no clusters", suiteBody("ts.clusters = []"), nil, 9, "no clusters"},
		{"unknown cluster", suiteBody("ts.clusters = ['cluster_x']"), nil, 9, `unknown cluster "cluster_x" (known: cluster_t)`},
		{"cluster that failed to load", suiteBody("ts.clusters = ['cluster_bad']"), map[string]string{"clusters/cluster_bad.py": "def getCluster():\n    return None\n"}, 9, `cluster "cluster_bad" failed to load (see the errors of clusters/cluster_bad.py)`},
		{"unknown machine", suiteBody("ts.machines = ['db']"), nil, 9, `unknown machine "db"`},
		{"ambiguous short machine name", suiteBody("ts.clusters = ['cluster_t', 'cluster_u']", "ts.machines = ['srv']"), map[string]string{"clusters/cluster_u.py": strings.NewReplacer("cluster_t", "cluster_u", "10.0.0.", "10.0.1.", "srv.xrd.test", "srv.other.test", "client.xrd.test", "c2.other.test").Replace(suiteRepo("", nil)["clusters/cluster_t.py"])}, 10, `machine "srv" is ambiguous`},
		{"same host in two clusters", suiteBody("ts.clusters = ['cluster_t', 'cluster_u']"), map[string]string{"clusters/cluster_u.py": strings.NewReplacer("cluster_t", "cluster_u", "10.0.0.", "10.0.1.").Replace(suiteRepo("", nil)["clusters/cluster_t.py"])}, 9, `host "srv.xrd.test" is in both cluster "cluster_t" and cluster "cluster_u"`},
		{"no tests", suiteBody("ts.tests = []"), nil, 9, "no tests"},
		{"duplicate test", suiteBody("ts.tests = ['c1', 'c1']"), nil, 9, `case "c1" is listed twice`},
		{"test without folder", suiteBody("ts.tests = ['c1', 'c9']"), nil, 9, `case "c9" has no test-suites/ts/tc/c9/run.sh`},
		{"test without run.sh", suiteBody("ts.tests = ['c3']"), map[string]string{"test-suites/ts/tc/c3/init.sh": "#!/bin/bash\n"}, 9, `case "c3" has no test-suites/ts/tc/c3/run.sh`},
		{"test name with a slash", suiteBody("ts.tests = ['../ts/tc/c1']"), nil, 9, "invalid case name"},
		{"run.sh is a symlink out of the repo", suiteBody("ts.tests = ['c1']"), map[string]string{"test-suites/ts/tc/c1/run.sh": "symlink:/etc/hostname"}, 9, "outside the repository"},
		{"run.sh is a symlink into .git", suiteBody("ts.tests = ['c1']"), map[string]string{".git/config": "[core]\n", "test-suites/ts/tc/c1/run.sh": "symlink:../../../../.git/config"}, 9, "inside a .git folder"},
		{"no schedule", suiteBody("ts.schedule = {}"), nil, 9, "no schedule"},
		{"schedule not a dict", suiteBody("ts.schedule = '0 3 * * *'"), nil, 9, "schedule must be a dict"},
		{"unknown schedule key", suiteBody("ts.schedule = dict(hours='3')"), nil, 9, `hours`},
		{"bad schedule value", suiteBody("ts.schedule = dict(minute='61')"), nil, 9, `61`},
		{"bad weekday", suiteBody("ts.schedule = dict(day_of_week='mon-frx')"), nil, 9, `mon-frx`},
		{"schedule value of wrong type", suiteBody("ts.schedule = dict(hour=['3'])"), nil, 9, "hour must be a string or an int"},
		{"no initialize", suiteBody("ts.initialize = None"), nil, 9, "no initialize script"},
		{"initialize of unknown form", suiteBody("ts.initialize = 'suite_init.sh'"), nil, 9, `"suite_init.sh" is not a script`},
		{"initialize file missing", suiteBody("ts.initialize = 'file://nope.sh'"), nil, 9, "cannot read file://nope.sh"},
		{"finalize of unknown form", suiteBody("ts.finalize = 'ftp://x/y.sh'"), nil, 9, "is not a script"},
		{"alert in lower case", suiteBody("ts.alert_success = 'suite'"), nil, 9, `write "SUITE"`},
		{"alert unknown", suiteBody("ts.alert_failure = 'ALWAYS'"), nil, 9, `alert_failure "ALWAYS" is invalid`},
		{"bad e-mail", suiteBody("ts.alert_emails = ['not an address']"), nil, 9, "not an e-mail address"},
		{"relative log path", suiteBody("ts.logs = ['xrootd.log']"), nil, 9, "not a clean absolute path"},
		{"stage_timeout not positive", suiteBody("ts.stage_timeout = 0"), nil, 9, "stage_timeout must be a positive"},
		{"stage_timeout a string", suiteBody("ts.stage_timeout = '60'"), nil, 9, "stage_timeout must be a number of seconds"},
		{"faults not a dict", suiteBody("ts.faults = ['partition']"), nil, 9, "faults must be a dict"},
		{"faults unknown key", suiteBody("ts.faults = dict(interval='2s', during=['run'], kinds=['pause'], often=True)"), nil, 9, `faults: unknown key "often"`},
		{"faults unknown kind", suiteBody("ts.faults = dict(interval='2s', during=['run'], kinds=['flood'])"), nil, 9, `kinds: "flood" is not one of`},
		{"faults kind without its argument", suiteBody("ts.faults = dict(interval='2s', during=['run'], kinds=['kill'])"), nil, 9, `kinds: "kill" is not one of`},
		{"faults bad stage kind", suiteBody("ts.faults = dict(interval='2s', during=['setup'], kinds=['pause'])"), nil, 9, `during: "setup" is not a stage kind`},
		{"faults bad interval", suiteBody("ts.faults = dict(interval='soon', during=['run'], kinds=['pause'])"), nil, 9, `interval "soon" is not a duration`},
		{"faults missing kinds", suiteBody("ts.faults = dict(interval=2, during=['run'])"), nil, 9, "interval, during and kinds are required"},
		{"faults negative seed", suiteBody("ts.faults = dict(seed=-1, interval=2, during=['run'], kinds=['pause'])"), nil, 9, "seed must be a whole number"},
		{"retries negative", suiteBody("ts.retries = -1"), nil, 9, "retries must be a whole number from 0 to 10"},
		{"retries too many", suiteBody("ts.retries = 11"), nil, 9, "retries must be a whole number from 0 to 10"},
		{"retries a string", suiteBody("ts.retries = '2'"), nil, 9, "retries must be a whole number"},
		{"hold not a duration", suiteBody("ts.hold_on_failure = '30 minutes'"), nil, 9, `hold_on_failure "30 minutes" is not a duration such as '30m'`},
		{"hold negative", suiteBody("ts.hold_on_failure = -5"), nil, 9, "hold_on_failure must be from 0 to 168h0m0s, got -5"},
		{"hold too long", suiteBody("ts.hold_on_failure = '200h'"), nil, 9, "hold_on_failure must be from 0 to 168h0m0s"},
		{"hold a list", suiteBody("ts.hold_on_failure = ['1h']"), nil, 9, "hold_on_failure"},
		{"getTestSuite returns a list", "def getTestSuite():\n    return []\n", nil, 1, "getTestSuite() returned a list"},
		{"no getTestSuite", "def getSuite():\n    return None\n", nil, 0, "no getTestSuite() function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := suiteRepo(tt.def, nil)
			links := map[string]string{}
			for k, v := range tt.extra {
				if target, ok := strings.CutPrefix(v, "symlink:"); ok {
					links[k] = target
					delete(files, k)
					continue
				}
				files[k] = v
			}
			root := writeRepo(t, files)
			for k, target := range links {
				if err := symlinkAt(root, k, target); err != nil {
					t.Fatal(err)
				}
			}
			set := Load(context.Background(), []Repo{{Root: root}}, Options{})
			if set.Suite("ts") != nil {
				t.Errorf("suite loaded; want it rejected")
			}
			wantDiag(t, set.Diagnostics, Error, tt.line, tt.want)
			if i := len(set.Failed) - 1; i < 0 || set.Failed[i].Kind != "suite" {
				t.Errorf("failed = %+v, want the suite listed", set.Failed)
			}
		})
	}
}

func TestSuiteNameClash(t *testing.T) {
	files := suiteRepo(suiteBody(), nil)
	files["test-suites/ts2/test_suite.py"] = suiteBody()
	files["test-suites/ts2/suite_init.sh"] = "#!/bin/bash\n"
	files["test-suites/ts2/tc/c1/run.sh"] = "#!/bin/bash\n"
	files["test-suites/ts2/tc/c2/run.sh"] = "#!/bin/bash\n"
	set := loadRepo(t, files)
	if len(set.Suites) != 1 {
		t.Fatalf("suites = %d, want 1", len(set.Suites))
	}
	wantDiag(t, set.Diagnostics, Error, 4, `test suite name "ts" is already used by`)
	wantDiag(t, set.Diagnostics, Warning, 4, `differs from its folder name "ts2"`)
}

func TestSuiteDiscovery(t *testing.T) {
	files := suiteRepo(suiteBody(), nil)
	files["test-suites/utils/helper.py"] = "import os\n"
	files["test-suites/utils/x.sh"] = "#!/bin/bash\n"
	files["test-suites/README.txt"] = "top-level files are ignored"
	files["test-suites/ts/ts.py"] = "print 'a 2012 leftover: test_suite.py wins'\n"
	set := loadRepo(t, files)
	mustSuite(t, set)
	if len(set.Diagnostics) != 1 { // c2 has no init.sh
		t.Errorf("diagnostics:\n%s", dump(set.Diagnostics))
	}
}

// APScheduler job options of any type are warned about and ignored, never
// an error: the original passed them on to add_cron_job.
func TestSuiteScheduleJobOptions(t *testing.T) {
	set := loadRepo(t, suiteRepo(suiteBody("ts.schedule = dict(minute='5', coalesce=True, misfire_grace_time=2.5, max_runs=None, name='nightly', max_instances=1)"), nil))
	s := mustSuite(t, set)
	for _, opt := range []string{"coalesce", "misfire_grace_time", "max_runs", "name", "max_instances"} {
		wantDiag(t, set.Diagnostics, Warning, 9, "schedule: "+opt+" is an APScheduler job option")
	}
	if got := s.Cron.Next(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 1, 1, 12, 5, 0, 0, time.UTC)) {
		t.Errorf("next run = %v, want 12:05:00: the options must not be cron fields", got)
	}
}

// TestSuiteFaults: ts.faults, xrdtest's own attribute, read with its
// defaults; a suite without it has none.
func TestSuiteFaults(t *testing.T) {
	s := mustSuite(t, loadRepo(t, suiteRepo(suiteBody("ts.faults = dict(seed=7, interval='1500ms', during=['run', 'finalize'], kinds=['partition', 'kill:xrootd'])"), nil)))
	want := FaultSchedule{Seed: 7, Interval: 1.5, During: []string{"run", "finalize"}, Kinds: []string{"partition", "kill:xrootd"}}
	if s.Faults == nil || s.Faults.Seed != want.Seed || s.Faults.Interval != want.Interval ||
		!slices.Equal(s.Faults.During, want.During) || !slices.Equal(s.Faults.Kinds, want.Kinds) {
		t.Errorf("faults %+v, want %+v", s.Faults, want)
	}
	if s := mustSuite(t, loadRepo(t, suiteRepo(suiteBody(), nil))); s.Faults != nil {
		t.Errorf("no ts.faults: %+v", s.Faults)
	}
}
