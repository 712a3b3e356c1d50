package definition

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/cron"
)

// Cluster is a validated cluster definition: machines on one private network.
type Cluster struct {
	Name string `json:"name"`
	// File is the definition file, relative to Repo.
	File string `json:"file"`
	Repo string `json:"-"`
	// RepoName and Revision name the repository and its revision the
	// definition was loaded from (see Repo).
	RepoName string  `json:"-"`
	Revision string  `json:"-"`
	Network  Network `json:"network"`
	Hosts    []*Host `json:"hosts"`
	Info     string  `json:"-"`
}

// Host returns the host with the given full name, or nil.
func (c *Cluster) Host(name string) *Host {
	for _, h := range c.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Network is a cluster's isolated network: gateway, subnet and DHCP range.
type Network struct {
	Name       string    `json:"name"`
	IP         string    `json:"ip"`
	Netmask    string    `json:"netmask"`
	DHCPRange  [2]string `json:"dhcp_range"`
	BridgeName string    `json:"bridge_name"`
}

// Host is one machine of a cluster; Name (an FQDN) is its slave's identity.
type Host struct {
	Name           string   `json:"name"`
	IP             string   `json:"ip"`
	MAC            string   `json:"mac"`
	RAMKiB         uint64   `json:"ram_kib"`
	Arch           string   `json:"arch"`
	BootImage      string   `json:"boot_image"`
	CacheBootImage bool     `json:"cache_boot_image"`
	Aliases        []string `json:"aliases"`
	Disks          []Disk   `json:"disks"`
	UUID           string   `json:"-"`
}

// Disk is an extra disk of a host.
type Disk struct {
	Name string `json:"name"`
	// Size in bytes.
	Size       uint64 `json:"size"`
	Device     string `json:"device"`
	MountPoint string `json:"mount_point"`
	// Cache keeps the disk (and its data) across runs; false recreates and
	// formats it at every start.
	Cache bool `json:"cache"`
}

// Suite is a validated test suite.
type Suite struct {
	Name string `json:"name"`
	// Dir is the suite's folder and File its definition, relative to Repo.
	Dir  string `json:"dir"`
	File string `json:"file"`
	Repo string `json:"-"`
	// RepoName and Revision name the repository and its revision the
	// definition was loaded from (see Repo).
	RepoName string   `json:"-"`
	Revision string   `json:"-"`
	DescName string   `json:"-"`
	Clusters []string `json:"clusters"`
	// Machines are full host names: every stage runs on all of them.
	Machines []string   `json:"machines"`
	Tests    []TestCase `json:"tests"`
	// Schedule is the schedule dict as written (string or int values).
	Schedule map[string]any `json:"schedule"`
	// Cron is the parsed schedule (APScheduler 2.0.3 semantics).
	Cron         *cron.Schedule `json:"-"`
	Initialize   *Script        `json:"initialize"`
	Finalize     *Script        `json:"finalize"`
	Logs         []string       `json:"logs"`
	AlertEmails  []string       `json:"alert_emails"`
	AlertSuccess AlertPolicy    `json:"alert_success"`
	AlertFailure AlertPolicy    `json:"alert_failure"`
	// StageTimeout in seconds; 0 means the master's default.
	StageTimeout float64 `json:"stage_timeout"`
	// Retries is how many times a failed test case runs again (init, run,
	// finalize); 0: never. A case that passes only on a retry is flaky.
	Retries int `json:"retries"`
	// HoldOnFailure is ts.hold_on_failure, xrdtest's own: how long a
	// session that fails stays held, its cluster up, before it goes on
	// (0: it does not hold).
	HoldOnFailure time.Duration `json:"hold_on_failure,omitempty"`
	// Faults is ts.faults, xrdtest's own (nil: none).
	Faults *FaultSchedule `json:"faults,omitempty"`
}

// FaultSchedule is ts.faults: random faults on random hosts of the
// suite's first cluster while the stages of the kinds in During run, one
// at a time, each healed before the next; the same seed gives the same
// sequence.
type FaultSchedule struct {
	// Seed seeds the choices; 0: a random one, printed in the session.
	Seed int64 `json:"seed"`
	// Interval is how long each fault lasts, in seconds.
	Interval float64 `json:"interval"`
	// During are stage kinds: suite_init, init, run, finalize,
	// suite_finalize.
	During []string `json:"during"`
	// Kinds are what may be set: partition, isolate, pause, and with
	// their argument loss:PERCENT, rate:RATE, delay:DURATION,
	// kill:PROCESS.
	Kinds []string `json:"kinds"`
}

// FaultKinds are the kinds a FaultSchedule takes, with ":" when they
// need an argument.
var FaultKinds = []string{"partition", "isolate", "pause", "loss:", "rate:", "delay:", "kill:"}

// AlertPolicy says when a suite's alert e-mails are sent.
type AlertPolicy string

// Alert policies, spelled as in definition files.
const (
	AlertSuite AlertPolicy = "SUITE" // one mail per session
	AlertCase  AlertPolicy = "CASE"  // also one per test case
	AlertNone  AlertPolicy = "NONE"
)

// TestCase is one `tc/<name>/` folder; each stage runs on all suite machines.
type TestCase struct {
	Name     string  `json:"name"`
	Init     *Script `json:"init"`
	Run      *Script `json:"run"`
	Finalize *Script `json:"finalize"`
}

// Script is a stage script, read when the definitions are loaded.
type Script struct {
	// Path of the file relative to the repository root, or the URL it was
	// fetched from; empty for an inline script.
	Path string
	// Text is the script itself.
	Text string
}

// NoOp reports whether running the script cannot do anything: empty, or
// only a shebang, blank lines and comments. It still counts as a stage.
func (s *Script) NoOp() bool {
	if s == nil {
		return true
	}
	for _, l := range strings.Split(s.Text, "\n") {
		if t := strings.TrimSpace(l); t != "" && t[0] != '#' {
			return false
		}
	}
	return true
}

// MarshalJSON renders a script as its path, URL or, when inline, its text.
func (s *Script) MarshalJSON() ([]byte, error) {
	if s.Path != "" {
		return json.Marshal(s.Path)
	}
	return json.Marshal(s.Text)
}
