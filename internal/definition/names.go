package definition

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Names end up in shell scripts, libvirt objects and file paths, so they
// are restricted to characters that are safe in all three.
var (
	nameRe       = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	hostLabelRe  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	deviceRe     = regexp.MustCompile(`^(?:[vsh]d|xvd)[a-z]{1,3}$`)
	mountPointRe = regexp.MustCompile(`^/[A-Za-z0-9_./+-]*$`)
	uuidRe       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	sizeRe       = regexp.MustCompile(`^([0-9]+)([BKMGTP]?)$`)
)

const maxBridgeName = 15 // Linux IFNAMSIZ - 1

func validName(s string) bool { return nameRe.MatchString(s) && s != "." && s != ".." }

// validHostname checks an RFC 1123 host name (a single label or an FQDN).
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !hostLabelRe.MatchString(l) {
			return false
		}
	}
	return true
}

// validMountPoint accepts a clean absolute path of safe characters: it is
// written into the @diskmounts@ shell snippet.
func validMountPoint(s string) bool {
	if !mountPointRe.MatchString(s) || s == "/" {
		return false
	}
	for _, part := range strings.Split(s[1:], "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// parseSize parses a disk size: digits with an optional upper-case unit
// B K M G T P (powers of 1024); bare digits are bytes.
func parseSize(s string) (uint64, error) {
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid disk size %q: want digits and an optional unit B, K, M, G, T or P (e.g. '20G')", s)
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("disk size %q is too large", s)
	}
	shift := uint(strings.Index("BKMGTP", m[2])) * 10
	if m[2] == "" {
		shift = 0
	}
	if n > (1<<63)>>shift {
		return 0, fmt.Errorf("disk size %q is too large", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("disk size %q is zero", s)
	}
	return n << shift, nil
}

// parseIPv4 parses a dotted IPv4 address into a number.
func parseIPv4(s string) (uint32, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
}

func formatIPv4(v uint32) string {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// parseNetmask parses a dotted netmask and requires contiguous ones.
func parseNetmask(s string) (uint32, bool) {
	m, ok := parseIPv4(s)
	if !ok || m == 0 {
		return 0, false
	}
	inv := ^m
	return m, inv&(inv+1) == 0
}
