package session

import (
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition"
)

func TestSubstitute(t *testing.T) {
	got := substitute("@slavename@ @port@ @proto@ @other@\n@diskmounts@", tagValues{slaveName: "a.xrd.test", webPort: 8080, webProto: "https",
		disks: []definition.Disk{{Name: "d", Device: "vdb", MountPoint: "/data"}}})
	want := "a.xrd.test 8080 https @other@\nmkdir -p '/data' && { mountpoint -q '/data' || mount -t ext4 -o user_xattr '/dev/vdb' '/data'; } && chown \"${XROOTD_USER}:${XROOTD_GROUP}\" '/data'"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := substitute("x @diskmounts@ y", tagValues{}); got != "x  y" {
		t.Errorf("no disks: %q", got)
	}
}
