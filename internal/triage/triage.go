// Package triage owns the fingerprint of a failure: what makes two failed
// stages the same failure. It knows nothing of the history; the session
// engine fingerprints each failed result as it records it, and the views
// group the history by fingerprint.
package triage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// TailLines is how many of the last non-empty output lines a fingerprint
// keeps: the last lines of a failed script are usually why it failed.
const TailLines = 5

// TailBytes is how much of the end of an output the engine reads for a
// fingerprint: enough for TailLines lines of any sane width.
const TailBytes = 4096

// maxLine caps a line kept, so a binary blob does not make the text huge.
const maxLine = 200

// The noise, replaced in this order: times before numbers (a time is
// numbers), paths before hex ids (a temporary name is often hex), host
// names before numbers (srv1 and srv2 of one role both become <host>).
var (
	reTimestamp = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?|\d{2}:\d{2}:\d{2}(?:[.,]\d+)?`)
	reDate      = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b|\b\d{6}\b \d{2}:\d{2}:\d{2}`)
	reTempPath  = regexp.MustCompile(`(?:/var)?/tmp/[^\s'":,;)\]]*`)
	reUUID      = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	reHex       = regexp.MustCompile(`(?i)\b0x[0-9a-f]+\b|\b[0-9a-f]*[0-9][0-9a-f]*[a-f][0-9a-f]*\b|\b[0-9a-f]*[a-f][0-9a-f]*[0-9][0-9a-f]*\b`)
	reNumber    = regexp.MustCompile(`\d+`)
	reSpaces    = regexp.MustCompile(`[ \t]+`)
)

// Normalise replaces the noise of one line of output: timestamps, temporary
// paths, UUIDs and hex ids, the given host names (full and short) and
// numbers, and squeezes blanks.
func Normalise(line string, hosts []string) string {
	s := reTimestamp.ReplaceAllString(line, "<time>")
	s = reDate.ReplaceAllString(s, "<time>")
	s = reTempPath.ReplaceAllString(s, "<tmp>")
	s = reUUID.ReplaceAllString(s, "<id>")
	for _, h := range hostNames(hosts) {
		s = strings.ReplaceAll(s, h, "<host>")
	}
	s = reHex.ReplaceAllStringFunc(s, func(m string) string {
		// A word of six hex digits or more with letters and digits, or
		// 0x...: an id, a hash, an address. Shorter words are English.
		if strings.HasPrefix(strings.ToLower(m), "0x") || len(m) >= 6 {
			return "<id>"
		}
		return m
	})
	s = reNumber.ReplaceAllString(s, "N")
	s = strings.TrimSpace(reSpaces.ReplaceAllString(s, " "))
	if len(s) > maxLine {
		s = s[:maxLine]
	}
	return s
}

// hostNames returns each host's full and short name, longest first, so a
// full name is replaced before its short name could cut it.
func hostNames(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if h == "" {
			continue
		}
		out = append(out, h)
		if short, _, ok := strings.Cut(h, "."); ok && len(short) >= 2 {
			out = append(out, short)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// Failure is what a fingerprint is made of.
type Failure struct {
	Stage  string // the stage's name: "<case>:run"
	Status string // failed, timeout, lost
	Exit   *int   // the exit status, nil when the script did not finish
	// Tail is the end of the output (at least TailBytes of it when longer).
	Tail []byte
	// Hosts are the session's machines: their names in the output are
	// noise.
	Hosts []string
}

// Fingerprint returns the id of f's fingerprint (16 hex digits) and its
// text: the stage, the exit status and the last lines, normalised.
func Fingerprint(f Failure) (id, text string) {
	status := f.Status
	if f.Exit != nil {
		status = fmt.Sprintf("exit %d", *f.Exit)
	}
	lines := []string{f.Stage + ": " + status}
	lines = append(lines, lastLines(string(f.Tail), f.Hosts)...)
	text = strings.Join(lines, "\n")
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:8]), text
}

// lastLines returns the last TailLines non-empty normalised lines of s. A
// first line cut by the start of the tail is dropped.
func lastLines(s string, hosts []string) []string {
	all := strings.Split(strings.ReplaceAll(s, "\r", "\n"), "\n")
	if len(s) >= TailBytes && len(all) > 1 {
		all = all[1:]
	}
	var out []string
	for i := len(all) - 1; i >= 0 && len(out) < TailLines; i-- {
		if l := Normalise(all[i], hosts); l != "" {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
