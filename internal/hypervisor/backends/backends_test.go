package backends

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/hypervisor/local"
	"github.com/xrdtest/xrdtest/internal/hypervisor/netns"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name    string
		s       Settings
		wantErr string // "" : opens
	}{
		{"local", Settings{StateDir: dir, MasterAddr: "m:20000"}, ""},
		{"libvirt", Settings{StateDir: dir, LibvirtURI: "qemu+tcp://elsewhere/system", Pool: "p"}, "libvirt: "},
		{"", Settings{}, `unknown backend "" (known: local, libvirt, netns)`},
		{"Local", Settings{}, `unknown backend "Local" (known: local, libvirt, netns)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Open(context.Background(), tt.name, tt.s)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Open: %v, want an error starting %q", err, tt.wantErr)
				}
				if strings.HasPrefix(tt.wantErr, "unknown") && !errors.Is(err, ErrUnknown) {
					t.Errorf("Open: %v is not ErrUnknown", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			l, ok := b.Backend.(*local.Backend)
			if !ok || b.Name != Local || b.Libvirt != nil {
				t.Fatalf("opened %+v", b)
			}
			if l.Binary == "" || l.Dir != filepath.Join(dir, "machines") || l.MasterAddr != "m:20000" || l.Log == nil {
				t.Errorf("local backend %+v", l)
			}
		})
	}
}

// TestOpenNetns: the netns backend opens where the machine has what it
// needs, and otherwise says what is missing.
func TestOpenNetns(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(context.Background(), Netns, Settings{StateDir: dir, MasterAddr: "127.0.0.1:20000"})
	if cerr := netns.Check(); cerr != nil {
		if err == nil || !strings.HasPrefix(err.Error(), "netns backend: this machine lacks ") {
			t.Fatalf("Open without %v: %v", cerr, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, ok := b.Backend.(*netns.Backend); b.Name != Netns || !ok || b.Libvirt != nil {
		t.Errorf("opened %+v", b)
	}
}
