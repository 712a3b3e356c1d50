package lvxml

import (
	"errors"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"
)

func netXML(name, bridge, ip, mask string, prefix uint) *libvirtxml.Network {
	return &libvirtxml.Network{
		Name:   name,
		Bridge: &libvirtxml.NetworkBridge{Name: bridge},
		IPs:    []libvirtxml.NetworkIP{{Address: ip, Netmask: mask, Prefix: prefix}},
	}
}

func TestCheckCollisions(t *testing.T) {
	want := netXML("c_net", "xrdc0", "10.213.50.1", "255.255.255.0", 0)
	for _, tc := range []struct {
		name     string
		existing []ExistingNetwork
		err      string
	}{
		{"none", nil, ""},
		{"other subnet and bridge", []ExistingNetwork{{netXML("o", "virbr0", "192.168.122.1", "255.255.255.0", 0), true}}, ""},
		{"same name", []ExistingNetwork{{netXML("c_net", "x9", "10.9.0.1", "255.255.255.0", 0), false}}, "a network named c_net already exists"},
		{"same bridge, inactive", []ExistingNetwork{{netXML("o", "xrdc0", "10.9.0.1", "255.255.255.0", 0), false}}, "network o already uses bridge xrdc0"},
		{"same subnet, active", []ExistingNetwork{{netXML("o", "o0", "10.213.50.254", "255.255.255.0", 0), true}}, "active network o has subnet 10.213.50.0/24, which overlaps 10.213.50.0/24"},
		{"same subnet, inactive", []ExistingNetwork{{netXML("o", "o0", "10.213.50.254", "255.255.255.0", 0), false}}, ""},
		{"wider subnet by prefix, active", []ExistingNetwork{{netXML("o", "o0", "10.213.0.1", "", 16), true}}, "subnet 10.213.0.0/16"},
		{"narrower subnet, active", []ExistingNetwork{{netXML("o", "o0", "10.213.50.129", "255.255.255.128", 0), true}}, "subnet 10.213.50.128/25"},
		{"adjacent subnet, active", []ExistingNetwork{{netXML("o", "o0", "10.213.51.1", "255.255.255.0", 0), true}}, ""},
		{"classful default /8, active", []ExistingNetwork{{netXML("o", "o0", "10.1.0.1", "", 0), true}}, "subnet 10.0.0.0/8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckCollisions(want, tc.existing)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want %q", err, tc.err)
			}
			if !errors.Is(err, ErrNetworkCollision) {
				t.Errorf("%v is not ErrNetworkCollision", err)
			}
			var ce *CollisionError
			if !errors.As(err, &ce) || ce.Network != "c_net" {
				t.Errorf("not a CollisionError naming c_net: %v", err)
			}
		})
	}
}
