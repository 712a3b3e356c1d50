package session

import (
	"fmt"
	"strings"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// tagValues are what the original framework's tags expand to on one slave.
type tagValues struct {
	slaveName string // @slavename@: the host's full name
	webPort   int    // @port@: the master's web port
	webProto  string // @proto@: http or https
	disks     []definition.Disk
}

// substitute expands the tags in a stage script. Unknown @x@ words are
// left alone: scripts use @ for other things too.
func substitute(script string, v tagValues) string {
	if !strings.Contains(script, "@") {
		return script // most scripts: no replacer built per slave and stage
	}
	return strings.NewReplacer(
		"@slavename@", v.slaveName,
		"@port@", fmt.Sprint(v.webPort),
		"@proto@", v.webProto,
		"@diskmounts@", diskMounts(v.disks),
	).Replace(script)
}

// diskMounts is the shell snippet @diskmounts@ stands for: mount every
// extra disk at its mount point, idempotently (a disk already mounted
// there, e.g. at boot, is fine). Devices and mount points were validated
// by the definition loader, so they are safe to place in the script; they
// are quoted all the same.
func diskMounts(disks []definition.Disk) string {
	var b strings.Builder
	for _, d := range disks {
		fmt.Fprintf(&b, "mkdir -p '%s' && { mountpoint -q '%s' || mount -t ext4 -o user_xattr '/dev/%s' '%s'; } && chown \"${XROOTD_USER}:${XROOTD_GROUP}\" '%s'\n",
			d.MountPoint, d.MountPoint, d.Device, d.MountPoint, d.MountPoint)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
