package lvxml

import "testing"

func TestNames(t *testing.T) {
	if got := DomainName("c1", "h1.xrd.test"); got != "c1_h1.xrd.test" {
		t.Errorf("DomainName = %q", got)
	}
	if got := NetworkName("c1", "c1_net"); got != "c1_c1_net" {
		t.Errorf("NetworkName = %q", got)
	}
	if got := OverlayVolumeName("c1", "h1.xrd.test"); got != "c1_h1.xrd.test.qcow2" {
		t.Errorf("OverlayVolumeName = %q", got)
	}
	if got := DataVolumeName("c1", "h1.xrd.test", "data"); got != "c1_h1.xrd.test_data.img" {
		t.Errorf("DataVolumeName = %q", got)
	}
	for img, want := range map[string]string{
		"slave.qcow2":     "slave",
		"slave-1.2.qcow2": "slave-1.2",
		"slave":           "slave",
		"slave.img":       "slave",
		".hidden":         ".hidden",
	} {
		k, i := KernelVolumeNames(img)
		if k != want+".vmlinuz" || i != want+".initrd.img" || LegacyInitrdName(img) != want+".initrd.gz" {
			t.Errorf("KernelVolumeNames(%q) = %q, %q", img, k, i)
		}
	}
	if shortName("h1.xrd.test") != "h1" || shortName("h1") != "h1" {
		t.Error("shortName")
	}
	for vol, want := range map[string]bool{
		"c1_h1.qcow2": true, "c1_h1_data.img": true, "c1_h1": false, "c2_h1.qcow2": false, "c1.qcow2": false,
	} {
		if OwnsVolumeName("c1", vol) != want {
			t.Errorf("OwnsVolumeName(c1, %q) != %v", vol, want)
		}
	}
}
