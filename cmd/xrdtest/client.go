package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xrdtest/xrdtest/internal/daemons"

	"github.com/xrdtest/xrdtest/internal/store"
)

// apiClient talks to a master's JSON API.
type apiClient struct {
	base  string
	token string
	http  *http.Client
	err   error // a bad --ca, said at the first request
}

// clientFlags adds --master, --token and --ca to a command's flags.
func clientFlags(fs *flag.FlagSet) func() *apiClient {
	base := fs.String("master", envOr("XRDTEST_MASTER", "http://127.0.0.1:8080"), "the master's web `URL` (env XRDTEST_MASTER)")
	token := fs.String("token", "", "API token for actions (default: env XRDTEST_API_TOKEN)")
	caFile := fs.String("ca", envOr("XRDTEST_CA", ""), "trust the CA in this PEM `file` for an https master, besides the system's (env XRDTEST_CA; the master's own: STATE_DIR/ca/ca.pem)")
	return func() *apiClient {
		t := *token
		if t == "" {
			t = os.Getenv("XRDTEST_API_TOKEN")
		}
		c := &apiClient{base: strings.TrimSuffix(*base, "/"), token: t, http: &http.Client{}}
		if *caFile != "" {
			c.http.Transport, c.err = trusting(*caFile)
		}
		return c
	}
}

// trusting is a transport that trusts the CA certificates of file too.
func trusting(file string) (*http.Transport, error) {
	pemData, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("--ca %s: no PEM certificate in it", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	if c.err != nil {
		return c.err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the master at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return apiError(resp, method, path)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// authorize gives req the API token, if there is one: actions need it,
// and reads do when the master's pages are not public.
func (c *apiClient) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// apiError is the error of a refused request: the master's message when
// it gave one.
func apiError(resp *http.Response, method, path string) error {
	var e struct{ Error string }
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return errors.New(e.Error)
	}
	return fmt.Errorf("%s %s: %s", method, path, resp.Status)
}

func (c *apiClient) session(ctx context.Context, id int64) (*store.SessionDetail, error) {
	var d store.SessionDetail
	if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/sessions/%d", id), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("bad session id %q", s)
	}
	return id, nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("run", "usage: xrdtest run [--wait] SUITE [--case NAME]...", stderr)
	wait := cmd.fs.Bool("wait", false, "wait for the session to end, print what happened and exit non-zero unless it passed")
	var cases listFlag
	cmd.fs.Var(&cases, "case", "run only this test case (repeatable)")
	pos, ok := cmd.parse(args, 1, 1)
	if !ok {
		return 2
	}
	c := cmd.client()
	var s store.Session
	user := os.Getenv("USER")
	if err := c.do(ctx, http.MethodPost, "/api/v1/sessions", map[string]any{"suite": pos[0], "cases": cases, "by": user}, &s); err != nil {
		return cmd.fail(1, err)
	}
	only := ""
	if len(cases) > 0 {
		only = " (cases " + strings.Join(s.Cases, ", ") + ")"
	}
	fmt.Fprintf(stdout, "session %d of suite %s queued%s\n", s.ID, s.Suite, only)
	if !*wait {
		return 0
	}
	return waitAndPrint(ctx, c, s.ID, stdout, stderr)
}

func waitAndPrint(ctx context.Context, c *apiClient, id int64, stdout, stderr io.Writer) int {
	state := store.SessionState("")
	for {
		d, err := c.session(ctx, id)
		if err != nil {
			fmt.Fprintf(stderr, "xrdtest: %v\n", err)
			return 1
		}
		if d.State != state && !d.State.Finished() {
			fmt.Fprintf(stdout, "session %d %s\n", id, d.State)
			state = d.State
		}
		if d.State.Finished() {
			printSummary(stdout, d)
			if d.State != store.SessionPassed {
				return 1
			}
			return 0
		}
		select {
		case <-ctx.Done():
			return 1
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("status", "usage: xrdtest status [SESSION]\n\nWithout SESSION: connected daemons and recent sessions; with it: that session.", stderr)
	limit := cmd.fs.Int("n", 10, "how many recent sessions to list")
	pos, ok := cmd.parse(args, 0, 1)
	if !ok {
		return 2
	}
	c := cmd.client()
	if len(pos) == 1 {
		id, err := parseID(pos[0])
		if err != nil {
			return cmd.fail(2, err)
		}
		d, err := c.session(ctx, id)
		if err != nil {
			return cmd.fail(1, err)
		}
		printSummary(stdout, d)
		return 0
	}
	var daemons []daemons.DaemonInfo
	var list struct {
		Sessions []*store.Session `json:"sessions"`
		Total    int              `json:"total"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/daemons", nil, &daemons); err != nil {
		return cmd.fail(1, err)
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/sessions?limit="+strconv.Itoa(*limit), nil, &list); err != nil {
		return cmd.fail(1, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Daemons (%d)\n", len(daemons))
	for _, d := range daemons {
		stage := "idle"
		if d.Stage != "" {
			stage = fmt.Sprintf("%s (session %d)", d.Stage, d.Session)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s since %s\t%s\n", d.Role, d.Name, d.Address, d.State, d.Since.Local().Format(time.DateTime), stage)
	}
	fmt.Fprintf(tw, "\nSessions (%d of %d)\n", len(list.Sessions), list.Total)
	for _, s := range list.Sessions {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", s.ID, s.Suite, s.State, s.Created.Local().Format(time.DateTime), s.Reason)
	}
	tw.Flush()
	return 0
}

func runCancel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("cancel", "usage: xrdtest cancel SESSION\n\nCancels a session: its running stage is stopped, its finalize stages still run.", stderr)
	id, ok := cmd.sessionArg(args)
	if !ok {
		return 2
	}
	if err := cmd.client().do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/sessions/%d/cancel", id), who(), nil); err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "session %d: cancelling (finalize stages still run)\n", id)
	return 0
}

// runLogs prints the output of a session's stages, every slave's in turn;
// with -f it follows a running session until it ends.
func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("logs", "usage: xrdtest logs [-f] [--stage NAME] [--slave NAME] SESSION\n\nPrints the output of a session's stages, every slave's in turn.", stderr)
	follow := cmd.fs.Bool("f", false, "follow the session while it runs")
	stageFilter := cmd.fs.String("stage", "", "only this stage (name)")
	slaveFilter := cmd.fs.String("slave", "", "only this slave")
	id, ok := cmd.sessionArg(args)
	if !ok {
		return 2
	}
	c := cmd.client()
	printed := map[string]bool{}
	for {
		d, err := c.session(ctx, id)
		if err != nil {
			return cmd.fail(1, err)
		}
		for _, st := range d.Stages {
			if *stageFilter != "" && st.Name != *stageFilter {
				continue
			}
			for _, r := range st.Results {
				key := fmt.Sprintf("%d %s", st.Index, r.Slave)
				if printed[key] || (*slaveFilter != "" && r.Slave != *slaveFilter) || r.Status == store.StatusSkipped || r.Status == store.StatusPending {
					continue
				}
				if r.Status == store.StatusRunning && !*follow {
					continue
				}
				printed[key] = true
				fmt.Fprintf(stdout, "==> %s on %s <==\n", st.Name, r.Slave)
				q := url.Values{"stage": {strconv.Itoa(st.Index)}, "slave": {r.Slave}}
				if *follow {
					q.Set("follow", "1")
				}
				if err := c.stream(ctx, fmt.Sprintf("/api/v1/sessions/%d/output?%s", id, q.Encode()), stdout); err != nil {
					cmd.fail(1, err) // said; the other outputs are still printed
				}
				fmt.Fprintf(stdout, "<== %s on %s: %s\n\n", st.Name, r.Slave, r.Status)
			}
		}
		if !*follow || d.State.Finished() {
			return 0
		}
		select {
		case <-ctx.Done():
			return 1
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// stream copies a plain-text API answer to w as it arrives.
func (c *apiClient) stream(ctx context.Context, path string, w io.Writer) error {
	if c.err != nil {
		return c.err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	c.authorize(req) // the pages may be private
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the master at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil // no output (yet)
	}
	if resp.StatusCode != http.StatusOK {
		return apiError(resp, http.MethodGet, path)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
