package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Timeouts of a Client. A request's answer is bounded by RequestTimeout,
// a reload's by ReloadTimeout (the master fetches its git repositories
// before it answers); an output stream only by its context, since a
// followed stage can run for hours.
const (
	DialTimeout    = 10 * time.Second
	RequestTimeout = time.Minute
	ReloadTimeout  = 10 * time.Minute
)

// Options configure a Client.
type Options struct {
	// URL is the master's web address, "http://127.0.0.1:8080".
	URL string
	// Token is the API token, sent to every request when set: actions
	// need it, and reads do when the master's pages are not public.
	Token string
	// CAFile names a PEM file whose CA certificates are trusted for an
	// https master, besides the system's.
	CAFile string
	// HTTP replaces the HTTP client (tests, a transport that counts
	// bytes); CAFile is then ignored.
	HTTP *http.Client
}

// Client calls a master's JSON API. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client of the master at opts.URL; the error is a
// CA file that cannot be read or holds no PEM certificate.
func NewClient(opts Options) (*Client, error) {
	c := &Client{base: strings.TrimSuffix(opts.URL, "/"), token: opts.Token, http: opts.HTTP}
	if c.http != nil {
		return c, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = DialTimeout
	if opts.CAFile != "" {
		pool, err := caPool(opts.CAFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// caPool is the system's CA certificates and those of file.
func caPool(file string) (*x509.CertPool, error) {
	pemData, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return pool, nil
}

// URL is the master's address the client calls.
func (c *Client) URL() string { return c.base }

// Error is a request the master refused or failed: its HTTP status, and
// its message when it gave one.
type Error struct {
	Method, Path string
	StatusCode   int
	Status       string // "404 Not Found"
	Message      string // the master's {"error": ...}, "" when none
}

// Error is the master's message, or the request and its status when the
// master gave none.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("%s %s: %s", e.Method, e.Path, e.Status)
}

// IsNotFound reports whether err is an answer 404 Not Found.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// responseError reads the error of a refused request.
func responseError(resp *http.Response, method, path string) error {
	e := &Error{Method: method, Path: path, StatusCode: resp.StatusCode, Status: resp.Status}
	var body ErrorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if json.Unmarshal(b, &body) == nil {
		e.Message = body.Error
	}
	return e
}

// send makes a request and returns its answer when the status is 2xx;
// the caller closes the body.
func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the master at %s: %w", c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, responseError(resp, method, path)
	}
	return resp, nil
}

// do sends body as JSON (nil: none) and decodes the answer into out,
// within timeout.
func (c *Client) do(ctx context.Context, timeout time.Duration, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, RequestTimeout, http.MethodGet, path, nil, out)
}

func (c *Client) post(ctx context.Context, path string, body, out any) error {
	return c.do(ctx, RequestTimeout, http.MethodPost, path, body, out)
}

// Status is GET /api/v1/status.
func (c *Client) Status(ctx context.Context) (*MasterStatus, error) {
	var s MasterStatus
	return &s, c.get(ctx, "/api/v1/status", &s)
}

// Daemons is GET /api/v1/daemons: the connected daemons.
func (c *Client) Daemons(ctx context.Context) ([]DaemonInfo, error) {
	var ds []DaemonInfo
	return ds, c.get(ctx, "/api/v1/daemons", &ds)
}

// Suites is GET /api/v1/suites: the loaded suites.
func (c *Client) Suites(ctx context.Context) ([]Suite, error) {
	var ss []Suite
	return ss, c.get(ctx, "/api/v1/suites", &ss)
}

// Schedule is GET /api/v1/schedule: every suite's next scheduled run.
func (c *Client) Schedule(ctx context.Context) ([]NextRun, error) {
	var rs []NextRun
	return rs, c.get(ctx, "/api/v1/schedule", &rs)
}

// SessionFilter selects sessions; zero fields select all (Limit 0: the
// master's default, 50).
type SessionFilter struct {
	Suite  string
	States []SessionState
	Limit  int
	Offset int
}

func (f SessionFilter) query() string {
	q := url.Values{}
	if f.Suite != "" {
		q.Set("suite", f.Suite)
	}
	for _, s := range f.States {
		q.Add("state", string(s))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// Sessions is GET /api/v1/sessions: the sessions f selects, newest
// first.
func (c *Client) Sessions(ctx context.Context, f SessionFilter) (*SessionList, error) {
	var l SessionList
	return &l, c.get(ctx, "/api/v1/sessions"+f.query(), &l)
}

// Session is GET /api/v1/sessions/{id}: a session with its stages and
// results, the scripts that ran included.
func (c *Client) Session(ctx context.Context, id int64) (*SessionDetail, error) {
	var d SessionDetail
	return &d, c.get(ctx, fmt.Sprintf("/api/v1/sessions/%d", id), &d)
}

// SessionSummary is Session without the scripts (scripts=0), far smaller
// for a session of many slaves.
func (c *Client) SessionSummary(ctx context.Context, id int64) (*SessionDetail, error) {
	var d SessionDetail
	return &d, c.get(ctx, fmt.Sprintf("/api/v1/sessions/%d?scripts=0", id), &d)
}

// Start is POST /api/v1/sessions: it queues a session of suite (only
// cases when some are given); by names the user asking.
func (c *Client) Start(ctx context.Context, suite string, cases []string, by string) (*Session, error) {
	var s Session
	return &s, c.post(ctx, "/api/v1/sessions", StartRequest{Suite: suite, Cases: cases, By: by}, &s)
}

// StartWith is Start with every option of the request.
func (c *Client) StartWith(ctx context.Context, req StartRequest) (*Session, error) {
	var s Session
	return &s, c.post(ctx, "/api/v1/sessions", req, &s)
}

// Rerun is POST /api/v1/sessions/{id}/rerun: it queues a new session of
// the suite and cases of session id.
func (c *Client) Rerun(ctx context.Context, id int64, by string) (*Session, error) {
	var s Session
	return &s, c.post(ctx, fmt.Sprintf("/api/v1/sessions/%d/rerun", id), ActionRequest{By: by}, &s)
}

// Cancel is POST /api/v1/sessions/{id}/cancel.
func (c *Client) Cancel(ctx context.Context, id int64, by string) (*Cancelling, error) {
	var a Cancelling
	return &a, c.post(ctx, fmt.Sprintf("/api/v1/sessions/%d/cancel", id), ActionRequest{By: by}, &a)
}

// Release is POST /api/v1/sessions/{id}/hold/release: the held session
// goes on (finalizes, logs, its cluster stopped).
func (c *Client) Release(ctx context.Context, id int64, by string) (*HoldReply, error) {
	var a HoldReply
	return &a, c.post(ctx, fmt.Sprintf("/api/v1/sessions/%d/hold/release", id), ActionRequest{By: by}, &a)
}

// Extend is POST /api/v1/sessions/{id}/hold/extend: it moves the held
// session's deadline by d.
func (c *Client) Extend(ctx context.Context, id int64, d time.Duration, by string) (*HoldReply, error) {
	var a HoldReply
	return &a, c.post(ctx, fmt.Sprintf("/api/v1/sessions/%d/hold/extend", id), ExtendRequest{By: by, Duration: d.String()}, &a)
}

// SetEnabled is POST /api/v1/suites/{name}/enabled: it enables or
// disables a suite's schedule.
func (c *Client) SetEnabled(ctx context.Context, suite string, enabled bool, by string) (*SuiteEnabled, error) {
	var a SuiteEnabled
	return &a, c.post(ctx, "/api/v1/suites/"+url.PathEscape(suite)+"/enabled", EnableRequest{Enabled: enabled, By: by}, &a)
}

// StopCluster is POST /api/v1/clusters/{name}/stop.
func (c *Client) StopCluster(ctx context.Context, name, by string) (*ClusterStopped, error) {
	var a ClusterStopped
	return &a, c.post(ctx, "/api/v1/clusters/"+url.PathEscape(name)+"/stop", ActionRequest{By: by}, &a)
}

// Repos is GET /api/v1/repos: the repositories and definitions as last
// loaded.
func (c *Client) Repos(ctx context.Context) (*ReloadReport, error) {
	var r ReloadReport
	return &r, c.get(ctx, "/api/v1/repos", &r)
}

// Reload is POST /api/v1/reload: the master fetches its git repositories
// and loads the definitions again, within ReloadTimeout.
func (c *Client) Reload(ctx context.Context, by string) (*ReloadReport, error) {
	var r ReloadReport
	return &r, c.do(ctx, ReloadTimeout, http.MethodPost, "/api/v1/reload", ActionRequest{By: by}, &r)
}

// Dashboard is GET /api/v1/dashboard.
func (c *Client) Dashboard(ctx context.Context) (*Dashboard, error) {
	var d Dashboard
	return &d, c.get(ctx, "/api/v1/dashboard", &d)
}

// Stats is GET /api/v1/stats: the statistics of the last days days (0:
// the master's default).
func (c *Client) Stats(ctx context.Context, days int) (*StatsView, error) {
	path := "/api/v1/stats"
	if days != 0 {
		path += "?days=" + strconv.Itoa(days)
	}
	var s StatsView
	return &s, c.get(ctx, path, &s)
}

// Clusters is GET /api/v1/clusters.
func (c *Client) Clusters(ctx context.Context) ([]ClusterView, error) {
	var cs []ClusterView
	return cs, c.get(ctx, "/api/v1/clusters", &cs)
}

// Hypervisors is GET /api/v1/hypervisors.
func (c *Client) Hypervisors(ctx context.Context) ([]HypervisorView, error) {
	var hs []HypervisorView
	return hs, c.get(ctx, "/api/v1/hypervisors", &hs)
}

// Cases is GET /api/v1/suites/{suite}/cases: every case of a suite over
// its recent history.
func (c *Client) Cases(ctx context.Context, suite string) (*CasesView, error) {
	var v CasesView
	if err := c.get(ctx, "/api/v1/suites/"+url.PathEscape(suite)+"/cases", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Case is GET /api/v1/suites/{suite}/cases/{case}: one case and its
// recent failures.
func (c *Client) Case(ctx context.Context, suite, name string) (*CaseView, error) {
	var v CaseView
	if err := c.get(ctx, "/api/v1/suites/"+url.PathEscape(suite)+"/cases/"+url.PathEscape(name), &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Quarantine is POST /api/v1/suites/{suite}/cases/{case}/quarantine.
func (c *Client) Quarantine(ctx context.Context, suite, name string, req QuarantineRequest) (*Quarantine, error) {
	var q Quarantine
	return &q, c.post(ctx, "/api/v1/suites/"+url.PathEscape(suite)+"/cases/"+url.PathEscape(name)+"/quarantine", req, &q)
}

// Unquarantine is POST /api/v1/suites/{suite}/cases/{case}/unquarantine.
func (c *Client) Unquarantine(ctx context.Context, suite, name, by string) (*Unquarantined, error) {
	var u Unquarantined
	return &u, c.post(ctx, "/api/v1/suites/"+url.PathEscape(suite)+"/cases/"+url.PathEscape(name)+"/unquarantine", ActionRequest{By: by}, &u)
}

// SuitesOverview is GET /api/v1/suites/overview.
func (c *Client) SuitesOverview(ctx context.Context) (*SuitesView, error) {
	var s SuitesView
	return &s, c.get(ctx, "/api/v1/suites/overview", &s)
}

// History is GET /api/v1/history with the query q (suite, state, from,
// to, page, per_page).
func (c *Client) History(ctx context.Context, q url.Values) (*HistoryView, error) {
	path := "/api/v1/history"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var h HistoryView
	return &h, c.get(ctx, path, &h)
}

// SessionView is GET /api/v1/sessions/{id}/view.
func (c *Client) SessionView(ctx context.Context, id int64) (*SessionView, error) {
	var v SessionView
	return &v, c.get(ctx, fmt.Sprintf("/api/v1/sessions/%d/view", id), &v)
}

// Output is GET /api/v1/sessions/{id}/output: one slave's output of one
// stage as plain text, streamed; with follow the stream lasts until the
// stage has ended there. A stage that has no output (yet) is an error
// IsNotFound. The caller closes the stream.
func (c *Client) Output(ctx context.Context, id int64, stage int, slave string, follow bool) (io.ReadCloser, error) {
	return c.text(ctx, "output", id, stage, slave, follow)
}

// Script is GET /api/v1/sessions/{id}/script: the script that ran on
// slave in stage.
func (c *Client) Script(ctx context.Context, id int64, stage int, slave string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	rc, err := c.text(ctx, "script", id, stage, slave, false)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func (c *Client) text(ctx context.Context, what string, id int64, stage int, slave string, follow bool) (io.ReadCloser, error) {
	q := url.Values{"stage": {strconv.Itoa(stage)}, "slave": {slave}}
	if follow {
		q.Set("follow", "1")
	}
	resp, err := c.send(ctx, http.MethodGet, fmt.Sprintf("/api/v1/sessions/%d/%s?%s", id, what, q.Encode()), nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Log is GET /api/v1/sessions/{id}/log: a log file collected from slave.
// The caller closes it.
func (c *Client) Log(ctx context.Context, id int64, slave, path string) (io.ReadCloser, error) {
	q := url.Values{"slave": {slave}, "path": {path}}
	resp, err := c.send(ctx, http.MethodGet, fmt.Sprintf("/api/v1/sessions/%d/log?%s", id, q.Encode()), nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// JUnit is GET /api/v1/sessions/{id}/junit.xml: the session as a JUnit
// XML report.
func (c *Client) JUnit(ctx context.Context, id int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	resp, err := c.send(ctx, http.MethodGet, fmt.Sprintf("/api/v1/sessions/%d/junit.xml", id), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
