package image

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpioEntry is one entry as readCPIO found it.
type cpioEntry struct {
	Name         string
	Ino          uint32
	Mode         uint32
	UID, GID     uint32
	Nlink        uint32
	Mtime        uint32
	RMajor       uint32
	RMinor       uint32
	Data         []byte
	headerOffset int
}

func (e cpioEntry) typ() uint32 { return e.Mode & cpioTypeMask }

// readCPIO parses a newc archive independently of the writer: it checks
// the magic, the hex fields, the NUL after the name, that padding is
// zeros and that the archive ends with TRAILER!!! and nothing but zeros.
func readCPIO(b []byte) ([]cpioEntry, error) {
	var out []cpioEntry
	off := 0
	for {
		if len(b)-off < 110 {
			return nil, fmt.Errorf("offset %d: truncated header", off)
		}
		if off%4 != 0 {
			return nil, fmt.Errorf("offset %d: header not 4-byte aligned", off)
		}
		h := b[off : off+110]
		if string(h[:6]) != "070701" {
			return nil, fmt.Errorf("offset %d: magic %q", off, h[:6])
		}
		var f [13]uint32
		for i := range f {
			s := string(h[6+8*i : 14+8*i])
			v, err := strconv.ParseUint(s, 16, 32)
			if err != nil {
				return nil, fmt.Errorf("offset %d: field %d %q: %v", off, i, s, err)
			}
			f[i] = uint32(v)
		}
		namesize, filesize := int(f[11]), int(f[6])
		if f[12] != 0 {
			return nil, fmt.Errorf("offset %d: check field %d, want 0", off, f[12])
		}
		p := off + 110
		if namesize < 1 || p+namesize > len(b) {
			return nil, fmt.Errorf("offset %d: bad namesize %d", off, namesize)
		}
		if b[p+namesize-1] != 0 {
			return nil, fmt.Errorf("offset %d: name not NUL-terminated", off)
		}
		name := string(b[p : p+namesize-1])
		p += namesize
		for ; p%4 != 0; p++ {
			if b[p] != 0 {
				return nil, fmt.Errorf("%s: non-zero name padding", name)
			}
		}
		if p+filesize > len(b) {
			return nil, fmt.Errorf("%s: truncated data", name)
		}
		e := cpioEntry{Name: name, Ino: f[0], Mode: f[1], UID: f[2], GID: f[3], Nlink: f[4], Mtime: f[5],
			RMajor: f[9], RMinor: f[10], Data: b[p : p+filesize], headerOffset: off}
		p += filesize
		for ; p%4 != 0; p++ {
			if p >= len(b) || b[p] != 0 {
				return nil, fmt.Errorf("%s: bad data padding", name)
			}
		}
		off = p
		if name == "TRAILER!!!" {
			if bytes.Count(b[off:], []byte{0}) != len(b)-off {
				return nil, fmt.Errorf("data after the trailer")
			}
			return out, nil
		}
		out = append(out, e)
	}
}

func TestCPIORoundTrip(t *testing.T) {
	var buf bytes.Buffer
	mtime := time.Unix(1700000000, 0)
	w := NewCPIOWriter(&buf, mtime)
	files := map[string]string{}
	// sizes 0..5 cover every padding case of the data.
	for i := 0; i <= 5; i++ {
		name := fmt.Sprintf("etc/f%d%s", i, strings.Repeat("x", i)) // and of the name
		files[name] = strings.Repeat("a", i)
		if err := w.WriteFile(name, 0o640, []byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	steps := []error{
		w.MkdirAll("/tmp", 0o777|fs.ModeSticky),
		w.WriteFile("/usr/bin/tool", 0o755, []byte("#!/bin/sh\necho hi\n")),
		w.Symlink("/bin/busybox", "bin/ls"),
		w.CharDev("dev/console", 0o600, 5, 1),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFile("bin/ls", 0o755, nil); err == nil {
		t.Error("a duplicate entry was accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != w.Len() {
		t.Errorf("Len %d, wrote %d", w.Len(), buf.Len())
	}
	if err := w.WriteFile("late", 0o644, nil); err == nil {
		t.Error("write after Close accepted")
	}
	entries, err := readCPIO(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cpioEntry{}
	seenIno := map[uint32]bool{}
	for i, e := range entries {
		if _, dup := byName[e.Name]; dup {
			t.Errorf("%s twice", e.Name)
		}
		byName[e.Name] = e
		if seenIno[e.Ino] {
			t.Errorf("%s: inode %d reused", e.Name, e.Ino)
		}
		seenIno[e.Ino] = true
		if strings.HasPrefix(e.Name, "/") {
			t.Errorf("%s: absolute name", e.Name)
		}
		if e.Mtime != uint32(mtime.Unix()) || e.UID != 0 || e.GID != 0 {
			t.Errorf("%s: mtime %d uid %d gid %d", e.Name, e.Mtime, e.UID, e.GID)
		}
		// every parent comes before its child
		if j := strings.LastIndex(e.Name, "/"); j > 0 {
			parent, ok := byName[e.Name[:j]]
			if !ok || parent.typ() != cpioDir {
				t.Errorf("entry %d %s: parent %s not written before it as a directory", i, e.Name, e.Name[:j])
			}
		}
	}
	for name, content := range files {
		e, ok := byName[name]
		if !ok {
			t.Fatalf("%s missing", name)
		}
		if e.typ() != cpioReg || e.Mode&0o7777 != 0o640 || string(e.Data) != content || e.Nlink != 1 {
			t.Errorf("%s: mode %o nlink %d data %q", name, e.Mode, e.Nlink, e.Data)
		}
	}
	want := []struct {
		name  string
		mode  uint32
		data  string
		rdev  [2]uint32
		nlink uint32
	}{
		{"etc", cpioDir | 0o755, "", [2]uint32{}, 2},
		{"tmp", cpioDir | 0o1777, "", [2]uint32{}, 2},
		{"usr", cpioDir | 0o755, "", [2]uint32{}, 2},
		{"usr/bin", cpioDir | 0o755, "", [2]uint32{}, 2},
		{"usr/bin/tool", cpioReg | 0o755, "#!/bin/sh\necho hi\n", [2]uint32{}, 1},
		{"bin/ls", cpioSymlink | 0o777, "/bin/busybox", [2]uint32{}, 1},
		{"dev/console", cpioChar | 0o600, "", [2]uint32{5, 1}, 1},
	}
	for _, w := range want {
		e, ok := byName[w.name]
		if !ok {
			t.Errorf("%s missing", w.name)
			continue
		}
		if e.Mode != w.mode || string(e.Data) != w.data || e.RMajor != w.rdev[0] || e.RMinor != w.rdev[1] || e.Nlink != w.nlink {
			t.Errorf("%s: mode %o data %q rdev %d:%d nlink %d; want mode %o data %q rdev %v nlink %d",
				w.name, e.Mode, e.Data, e.RMajor, e.RMinor, e.Nlink, w.mode, w.data, w.rdev, w.nlink)
		}
	}
	if !w.Has("/dev/console") || w.Has("dev/tty") {
		t.Error("Has is wrong")
	}
}

func TestCPIOKnownBytes(t *testing.T) {
	// One file "a" with "xyz", mtime 0: header, name + NUL + padding to
	// 4 (110+2 = 112), data + 1 byte of padding, then the trailer.
	var buf bytes.Buffer
	w := NewCPIOWriter(&buf, time.Time{})
	if err := w.WriteFile("a", 0o644, []byte("xyz")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "070701" + "00000002" + "000081a4" + "00000000" + "00000000" + "00000001" + "00000000" + "00000003" +
		"00000000" + "00000000" + "00000000" + "00000000" + "00000002" + "00000000" + "a\x00" + "xyz\x00" +
		"070701" + "00000000" + "00000000" + "00000000" + "00000000" + "00000001" + "00000000" + "00000000" +
		"00000000" + "00000000" + "00000000" + "00000000" + "0000000b" + "00000000" + "TRAILER!!!\x00" + "\x00\x00\x00"
	if got := buf.String(); got != want {
		t.Errorf("archive:\n%q\nwant\n%q", got, want)
	}
}

func TestCPIOInvalidNames(t *testing.T) {
	w := NewCPIOWriter(&bytes.Buffer{}, time.Time{})
	for _, n := range []string{"", "/", "."} {
		if err := w.WriteFile(n, 0o644, nil); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
}

// TestCPIOAgainstTool cross-checks with a cpio tool when one is installed
// (the test above does not need it).
func TestCPIOAgainstTool(t *testing.T) {
	tool := ""
	for _, p := range []string{"/usr/bin/cpio", "/bin/cpio"} {
		if _, err := os.Stat(p); err == nil {
			tool = p
		}
	}
	if tool == "" {
		t.Skip("no cpio tool installed")
	}
	var buf bytes.Buffer
	w := NewCPIOWriter(&buf, time.Now())
	_ = w.WriteFile("d/e/f.txt", 0o644, []byte("hello"))
	_ = w.Symlink("f.txt", "d/e/g")
	_ = w.Close()
	out, err := runWithStdin(tool, buf.Bytes(), "-t", "--quiet")
	if err != nil {
		t.Fatalf("%s -t: %v\n%s", tool, err, out)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "d d/e d/e/f.txt d/e/g" {
		t.Errorf("cpio -t lists %q", got)
	}
}
