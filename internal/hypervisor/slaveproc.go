package hypervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/xrdtest/xrdtest/internal/pki"
)

// Credentials are the enrollment token of host and the master's CA
// fingerprint the spec gives, or token and fp where it gives none.
func (s ClusterSpec) Credentials(host, token string, fp pki.Fingerprint) (string, pki.Fingerprint) {
	if t := s.Tokens[host]; t != "" {
		token = t
	}
	if s.Master.Fingerprint != (pki.Fingerprint{}) {
		fp = s.Master.Fingerprint
	}
	return token, fp
}

// SlaveProcess is a host's slave as the backends whose hosts run on this
// machine (local, netns) start it: `xrdtest slave` without a configuration
// file, enrolling with the host's token (in the environment: never in
// argv) and pinning the master's CA.
type SlaveProcess struct {
	Binary      string          // the xrdtest executable
	Master      string          // the master's daemon port, host:port
	Host        string          // the host's name, the slave's
	Dir         string          // holds the slave's state/ and work/
	Log         string          // the file its output is appended to
	Functions   string          // where it installs functions.sh (also XRDTEST_FUNCTIONS)
	Token       string          // its enrollment token
	Fingerprint pki.Fingerprint // the master's CA
	Args        []string        // more arguments
	Env         []string        // more environment variables
	Attr        *syscall.SysProcAttr
	// Via is a command the slave is started through, the slave's command
	// line as its arguments (the netns backend: into its host's
	// namespaces); nil = start it directly.
	Via []string
}

// Start starts the slave; the caller waits for it.
func (p SlaveProcess) Start() (*exec.Cmd, error) {
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the slave has its own
	args := append([]string{"slave", "-c", "none", "--master", p.Master, "--name", p.Host,
		"--state-dir", filepath.Join(p.Dir, "state"), "--work-dir", filepath.Join(p.Dir, "work"),
		"--functions-path", p.Functions, "--ca-fingerprint", p.Fingerprint.String()}, p.Args...)
	argv := append(append(slices.Clip(p.Via), p.Binary), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "XRDTEST_TOKEN="+p.Token, "XRDTEST_FUNCTIONS="+p.Functions), p.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = p.Attr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}
