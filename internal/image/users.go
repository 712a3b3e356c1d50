package image

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The image's own accounts. Packages' maintainer scripts do not run in
// the image, so the system users they would create (adduser in a
// postinst) come from sysUsers.
const (
	basePasswd = "root:x:0:0:root:/root:/bin/bash\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	baseGroup = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\n"
)

// diskUser is the account the original framework's scripts give data
// disks to (@diskmounts@ chowns them to ${XROOTD_USER}): the image has it
// whether or not a package asks for it.
const diskUser = "xrootd"

// sysUser is an account the image's packages need.
type sysUser struct {
	Name, Group string // Group: the primary group ("" for a group alone)
	UID, GID    int
	Home, Shell string
	Gecos       string
	From        string // the package file that asked for it
}

// sysAccounts are the users and groups the packages need, found in their
// files: sysusers.d entries (u: a user and its group, g: a group, with
// their ids when fixed) first, then every user and group a tmpfiles.d
// entry names as an owner (d /run/xrootd - xrootd xrootd -: user and group
// xrootd), which a package's postinst creates with adduser. Ids not fixed
// by a sysusers.d entry are taken from 999 downwards, as systemd-sysusers
// does; users made from a tmpfiles.d owner get a group of their own name,
// home /nonexistent and shell /usr/sbin/nologin. Last, user and group
// diskUser when no package named them.
type sysAccounts struct {
	Users  []sysUser // in the order found
	Groups []sysUser // groups without a user of the name
}

// deriveAccounts reads the packages' sysusers.d and tmpfiles.d files.
func deriveAccounts(trees []tree) (*sysAccounts, error) {
	type want struct {
		user, group bool
		uid, gid    int // -1: any
		home, shell string
		gecos       string
		from        string
	}
	wants := map[string]*want{}
	var order []string
	get := func(name, from string) *want {
		w := wants[name]
		if w == nil {
			w = &want{uid: -1, gid: -1, from: from}
			wants[name] = w
			order = append(order, name)
		}
		return w
	}
	for _, kind := range []string{"sysusers.d", "tmpfiles.d"} {
		for _, t := range trees {
			var files []string
			for _, d := range []string{"usr/lib", "lib"} {
				fs, _ := filepath.Glob(filepath.Join(t.Dir, d, kind, "*.conf"))
				files = append(files, fs...)
			}
			sort.Strings(files)
			for _, f := range files {
				rel, _ := filepath.Rel(t.Dir, f)
				from := t.Name + ": /" + filepath.ToSlash(rel)
				lines, err := confLines(f)
				if err != nil {
					return nil, err
				}
				for _, l := range lines {
					if kind == "sysusers.d" {
						if len(l) < 2 {
							continue
						}
						switch l[0] {
						case "u":
							w := get(l[1], from)
							w.user, w.group = true, true
							if len(l) > 2 {
								if u, g, ok := fixedIDs(l[2]); ok {
									w.uid, w.gid = u, g
								}
							}
							if len(l) > 3 && l[3] != "-" {
								w.gecos = l[3]
							}
							if len(l) > 4 && l[4] != "-" {
								w.home = l[4]
							}
							if len(l) > 5 && l[5] != "-" {
								w.shell = l[5]
							}
						case "g":
							w := get(l[1], from)
							w.group = true
							if len(l) > 2 {
								if g, _, ok := fixedIDs(l[2]); ok {
									w.gid = g
								}
							}
						}
						continue
					}
					// tmpfiles.d: Type Path Mode User Group Age Argument.
					if len(l) >= 4 && ownerName(l[3]) {
						w := get(l[3], from)
						w.user, w.group = true, true
					}
					if len(l) >= 5 && ownerName(l[4]) {
						get(l[4], from).group = true
					}
				}
			}
		}
	}
	usedU, usedG := idsOf(basePasswd, 2), idsOf(baseGroup, 2)
	baseU, baseG := namesOf(basePasswd), namesOf(baseGroup)
	for _, n := range order { // fixed ids first: the free ones go around them
		w := wants[n]
		if w.uid >= 0 {
			usedU[w.uid] = true
		}
		if w.gid >= 0 {
			usedG[w.gid] = true
		}
	}
	next := func(used map[int]bool) int {
		for id := 999; id > 0; id-- {
			if !used[id] {
				used[id] = true
				return id
			}
		}
		return -1
	}
	if w := get(diskUser, "xrdtest: the owner @diskmounts@ gives data disks"); !w.user {
		w.user, w.group = true, true
	}
	acc := &sysAccounts{}
	for _, n := range order {
		w := wants[n]
		if w.group && !baseG[n] && w.gid < 0 {
			// A user's group takes the user's id when that is free.
			if w.user && w.uid >= 0 && !usedG[w.uid] {
				w.gid = w.uid
				usedG[w.gid] = true
			} else if w.gid = next(usedG); w.gid < 0 {
				return nil, fmt.Errorf("%s: no free group id below 1000 for %s", w.from, n)
			}
		}
		if !w.user || baseU[n] {
			if w.group && !baseG[n] {
				acc.Groups = append(acc.Groups, sysUser{Name: n, GID: w.gid, From: w.from})
			}
			continue
		}
		if w.uid < 0 {
			if !usedU[w.gid] && w.gid >= 0 && !baseG[n] {
				w.uid = w.gid
				usedU[w.uid] = true
			} else if w.uid = next(usedU); w.uid < 0 {
				return nil, fmt.Errorf("%s: no free user id below 1000 for %s", w.from, n)
			}
		}
		u := sysUser{Name: n, Group: n, UID: w.uid, GID: w.gid, Home: w.home, Shell: w.shell, Gecos: w.gecos, From: w.from}
		if u.Home == "" {
			u.Home = "/nonexistent"
		}
		if u.Shell == "" {
			u.Shell = "/usr/sbin/nologin"
		}
		acc.Users = append(acc.Users, u)
	}
	return acc, nil
}

// passwd and group return the image's /etc/passwd and /etc/group.
func (a *sysAccounts) passwd() string {
	var b strings.Builder
	b.WriteString(basePasswd)
	if a != nil {
		for _, u := range a.Users {
			fmt.Fprintf(&b, "%s:x:%d:%d:%s:%s:%s\n", u.Name, u.UID, u.GID, u.Gecos, u.Home, u.Shell)
		}
	}
	return b.String()
}

func (a *sysAccounts) group() string {
	var b strings.Builder
	b.WriteString(baseGroup)
	if a != nil {
		for _, u := range a.Users {
			fmt.Fprintf(&b, "%s:x:%d:\n", u.Name, u.GID)
		}
		for _, g := range a.Groups {
			fmt.Fprintf(&b, "%s:x:%d:\n", g.Name, g.GID)
		}
	}
	return b.String()
}

// summary lists the accounts for image.json: "xrootd 999:999 (xrootd-server: /usr/lib/tmpfiles.d/xrootd.conf)".
func (a *sysAccounts) summary() []string {
	if a == nil {
		return nil
	}
	var s []string
	for _, u := range a.Users {
		s = append(s, fmt.Sprintf("user %s %d:%d (%s)", u.Name, u.UID, u.GID, u.From))
	}
	for _, g := range a.Groups {
		s = append(s, fmt.Sprintf("group %s %d (%s)", g.Name, g.GID, g.From))
	}
	return s
}

// fixedIDs reads a sysusers.d id field: "-" (any), "N" or "N:M".
func fixedIDs(f string) (int, int, bool) {
	a, b, two := strings.Cut(f, ":")
	u, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, false
	}
	g := u
	if two {
		if g, err = strconv.Atoi(b); err != nil {
			return 0, 0, false
		}
	}
	return u, g, true
}

// ownerName tells whether a tmpfiles.d user or group field names an
// account (not "-", not a number).
func ownerName(f string) bool {
	if f == "" || f == "-" {
		return false
	}
	_, err := strconv.Atoi(f)
	return err != nil
}

// confLines splits a sysusers.d/tmpfiles.d file into the fields of its
// lines, quotes honoured, comments and blank lines dropped.
func confLines(file string) ([][]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		var fields []string
		for l != "" {
			l = strings.TrimLeft(l, " \t")
			if l == "" {
				break
			}
			if l[0] == '"' {
				end := strings.IndexByte(l[1:], '"')
				if end < 0 {
					fields = append(fields, l[1:])
					break
				}
				fields = append(fields, l[1:1+end])
				l = l[2+end:]
				continue
			}
			i := strings.IndexAny(l, " \t")
			if i < 0 {
				fields = append(fields, l)
				break
			}
			fields = append(fields, l[:i])
			l = l[i:]
		}
		out = append(out, fields)
	}
	return out, sc.Err()
}

func idsOf(file string, field int) map[int]bool {
	m := map[int]bool{}
	for _, l := range strings.Split(file, "\n") {
		if f := strings.Split(l, ":"); len(f) > field {
			if id, err := strconv.Atoi(f[field]); err == nil {
				m[id] = true
			}
		}
	}
	return m
}

func namesOf(file string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(file, "\n") {
		if n, _, ok := strings.Cut(l, ":"); ok && n != "" {
			m[n] = true
		}
	}
	return m
}
