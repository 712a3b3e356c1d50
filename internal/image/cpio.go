package image

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// CPIOWriter writes a cpio archive in the "newc" format (magic 070701),
// the one the Linux kernel unpacks as an initramfs. Each entry is a
// 110-byte ASCII header (13 eight-digit hex fields after the magic), the
// NUL-terminated name padded to a multiple of 4 bytes (counting the
// header), then the data padded to a multiple of 4; a "TRAILER!!!" entry
// ends the archive. Names are written without a leading "/", as the
// kernel expects them (relative to the new root).
//
// Entries are written in the order they are added; the kernel creates a
// file's parent directories only if they came earlier, so add directories
// first (MkdirAll does).
type CPIOWriter struct {
	w     io.Writer
	ino   uint32
	mtime time.Time
	dirs  map[string]bool
	names map[string]bool
	err   error
	n     int64
}

// NewCPIOWriter returns a writer whose entries carry mtime.
func NewCPIOWriter(w io.Writer, mtime time.Time) *CPIOWriter {
	return &CPIOWriter{w: w, ino: 1, mtime: mtime, dirs: map[string]bool{"": true}, names: map[string]bool{}}
}

// Mode bits of the newc header (the st_mode of the entry).
const (
	cpioTypeMask = 0o170000
	cpioDir      = 0o040000
	cpioReg      = 0o100000
	cpioSymlink  = 0o120000
	cpioChar     = 0o020000
)

func cleanName(name string) (string, error) {
	n := strings.TrimPrefix(path.Clean("/"+name), "/")
	if n == "" || n == "." {
		return "", fmt.Errorf("cpio: invalid entry name %q", name)
	}
	return n, nil
}

// MkdirAll adds dir and its missing parents with mode perm.
func (c *CPIOWriter) MkdirAll(dir string, perm fs.FileMode) error {
	n, err := cleanName(dir)
	if err != nil {
		return err
	}
	if c.dirs[n] {
		return nil
	}
	if parent := path.Dir(n); parent != "." {
		if err := c.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	if err := c.entry(n, cpioDir|unixPerm(perm), 2, 0, 0, nil); err != nil {
		return err
	}
	c.dirs[n] = true
	return nil
}

// WriteFile adds a regular file (its parent directories first).
func (c *CPIOWriter) WriteFile(name string, perm fs.FileMode, data []byte) error {
	n, err := c.prepare(name)
	if err != nil {
		return err
	}
	return c.entry(n, cpioReg|unixPerm(perm), 1, 0, 0, data)
}

// Symlink adds name as a symbolic link to target.
func (c *CPIOWriter) Symlink(target, name string) error {
	n, err := c.prepare(name)
	if err != nil {
		return err
	}
	return c.entry(n, cpioSymlink|0o777, 1, 0, 0, []byte(target))
}

// CharDev adds a character device node (e.g. /dev/console, 5:1).
func (c *CPIOWriter) CharDev(name string, perm fs.FileMode, major, minor uint32) error {
	n, err := c.prepare(name)
	if err != nil {
		return err
	}
	return c.entry(n, cpioChar|unixPerm(perm), 1, major, minor, nil)
}

func (c *CPIOWriter) prepare(name string) (string, error) {
	n, err := cleanName(name)
	if err != nil {
		return "", err
	}
	if dir := path.Dir(n); dir != "." {
		if err := c.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	return n, nil
}

// Has reports whether name was added (as any kind of entry).
func (c *CPIOWriter) Has(name string) bool {
	n, err := cleanName(name)
	return err == nil && c.names[n]
}

// underNonDir reports whether a parent of name was added as something
// other than a directory (a symlink): an entry below it cannot be added.
func (c *CPIOWriter) underNonDir(name string) bool {
	n, err := cleanName(name)
	if err != nil {
		return false
	}
	for d := path.Dir(n); d != "."; d = path.Dir(d) {
		if c.names[d] && !c.dirs[d] {
			return true
		}
	}
	return false
}

// Close writes the trailer. It does not close the underlying writer.
func (c *CPIOWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	// The trailer is an entry like any other, with nlink 1 and no data.
	if err := c.raw("TRAILER!!!", 0, 1, 0, 0, nil, 0); err != nil {
		c.err = err
		return err
	}
	c.err = errors.New("cpio: archive closed")
	return nil
}

// Len is the number of bytes written so far.
func (c *CPIOWriter) Len() int64 { return c.n }

func (c *CPIOWriter) entry(name string, mode, nlink, rmajor, rminor uint32, data []byte) error {
	if c.err != nil {
		return c.err
	}
	if c.names[name] {
		return fmt.Errorf("cpio: duplicate entry %q", name)
	}
	c.names[name] = true
	c.ino++
	c.err = c.raw(name, mode, nlink, rmajor, rminor, data, c.ino)
	return c.err
}

func (c *CPIOWriter) raw(name string, mode, nlink, rmajor, rminor uint32, data []byte, ino uint32) error {
	if uint64(len(data)) > 0xffffffff {
		return fmt.Errorf("cpio: %s: file too large for newc (%d bytes)", name, len(data))
	}
	mtime := uint32(0)
	if !c.mtime.IsZero() && c.mtime.Unix() > 0 {
		mtime = uint32(c.mtime.Unix())
	}
	// magic ino mode uid gid nlink mtime filesize devmajor devminor
	// rdevmajor rdevminor namesize check
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+8)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = append(buf, make([]byte, pad4(len(buf)))...)
	if err := c.write(buf); err != nil {
		return err
	}
	if len(data) > 0 {
		if err := c.write(data); err != nil {
			return err
		}
		if err := c.write(make([]byte, pad4(len(data)))); err != nil {
			return err
		}
	}
	return nil
}

func (c *CPIOWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return err
}

func pad4(n int) int { return (4 - n%4) % 4 }

// unixPerm turns permission bits, setuid, setgid and sticky into st_mode
// bits.
func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}
