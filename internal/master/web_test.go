package master_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/master"
)

func get(t *testing.T, m *master.Master, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get("http://" + m.WebAddr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestWebListener: the JUnit export, the scripts and the API share the
// master's web port.
func TestWebListener(t *testing.T) {
	m := actionsMaster(t, actionsRepo(t), nil)
	ctx := context.Background()
	s, err := m.Manager.Start(ctx, "ts", []string{"b"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	m.Manager.Wait(ctx, s.ID) // fails: no slaves

	resp, body := get(t, m, fmt.Sprintf("/api/v1/sessions/%d/junit.xml", s.ID))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/xml; charset=utf-8" {
		t.Fatalf("junit.xml: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("junit.xml: %v\n%s", err, body)
	}
	if doc.Tests != 1 || doc.Failures != 1 || doc.Suites[0].Name != "ts.(suite)" || doc.Suites[0].Cases[0].Name != "session" ||
		!strings.Contains(doc.Suites[0].Cases[0].Failure.Message, "slaves not connected and idle after 100ms") {
		t.Errorf("junit.xml:\n%s", body)
	}
	if resp, body := get(t, m, "/api/v1/sessions/999/junit.xml"); resp.StatusCode != 404 || !strings.Contains(body, "no session 999") {
		t.Errorf("unknown session: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, m, fmt.Sprintf("/api/v1/sessions/%d/junit.xml?tail=lots", s.ID)); resp.StatusCode != 400 || !strings.Contains(body, "want a number of bytes") {
		t.Errorf("bad tail: %d %s", resp.StatusCode, body)
	}

	resp, body = get(t, m, "/downloadScript//test-suites/ts/tc/a/run.sh")
	if resp.StatusCode != 200 || body != "#!/bin/bash\n" || resp.Header.Get("Content-Disposition") != "attachment; filename=run.sh" {
		t.Errorf("downloadScript: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body := get(t, m, "/showScript/../x"); resp.StatusCode != 403 {
		t.Errorf("showScript ..: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, m, "/api/v1/status"); resp.StatusCode != 200 {
		t.Errorf("status: %d", resp.StatusCode)
	}
}
