package image

import (
	"fmt"
	"net"
	"strings"
)

// DefaultMaster is the master a guest dials when its parameters name none.
const DefaultMaster = "master.xrd.test:20000"

// BaseCmdline is the start of every guest's kernel command line: the
// serial console (the slave's output is written there), no reboot loop
// when the kernel panics (panic=-1 reboots at once; with libvirt's
// on_reboot=destroy the domain just stops), the HPET clock source (under
// TCG the TSC calibration is unreliable and the guest clock runs off), a
// quiet kernel so the console shows the boot and the slave, and what
// shortens a boot under TCG by about a fifth: no crypto self-tests, no
// timer check, no speculation mitigations (a throwaway test VM), the CPU's
// random numbers trusted (entropy for the first TLS keys).
const BaseCmdline = "console=ttyS0 panic=-1 clocksource=hpet quiet cryptomgr.notests=1 no_timer_check mitigations=off random.trust_cpu=on"

// MinRAM is the least guest RAM, in MiB, that boots an image whose
// uncompressed initramfs is initrd bytes. The kernel unpacks the archive
// into the root tmpfs, whose size cap it sets at half the RAM it counts
// then, and the archive itself is not counted while it is in memory: the
// cap is about (RAM - kernel - archive) / 2, and the files take a little
// more than the archive (each rounded up to whole pages). Below that the
// console says "Initramfs unpacking failed: write error" and the guest
// never starts its slave. Measured with qemu (TCG, Debian's 6.1 cloud
// kernel): a 34.2 MiB archive needs 150 MiB, a 189.5 MiB one 643 MiB,
// i.e. 3.17 x archive + 42. This asks 3.2 x archive + 48, rounded up to
// 8 MiB: a few MiB above what booted, as the refusal it drives must not
// turn away a guest that boots (160 MiB for the image without packages,
// 656 MiB with the XRootD packages). It is what the guest needs to boot,
// not what its tests need.
func MinRAM(initrd int64) int {
	const step = 8 << 20
	need := 16*initrd/5 + 48<<20
	return int((need + step - 1) / step * step >> 20)
}

// RAMCheck says why ramKiB of guest RAM cannot boot an initramfs of initrd
// bytes, or returns nil.
func RAMCheck(ramKiB uint64, initrd int64) error {
	need := MinRAM(initrd)
	if ramKiB >= uint64(need)<<10 {
		return nil
	}
	return fmt.Errorf("%d MiB of RAM cannot unpack its boot image's %.1f MiB initramfs (the kernel unpacks it into a tmpfs capped at half the RAM left beside the archive): give it at least %d MiB (ramSize '%d')",
		ramKiB>>10, float64(initrd)/(1<<20), need, need<<10)
}

// BootParams is what a guest of the image needs to know: its identity and
// how to reach and trust the master. The guest's /init reads them as
// xrdtest.KEY=VALUE words from SMBIOS OEM strings (type 11) and then from
// the kernel command line, the latter winning.
type BootParams struct {
	Name           string // xrdtest.name: the slave's name, the host's FQDN (required)
	Master         string // xrdtest.master: HOST:PORT ("": DefaultMaster)
	Token          string // xrdtest.token: one-time enrollment token
	CAFingerprint  string // xrdtest.ca: sha256:... pin of the master's CA
	Gateway        string // xrdtest.gw: default route when the DHCP lease has no router
	PowerOffOnExit bool   // xrdtest.poweroff_on_exit=1: power off when the slave exits (tests)
}

// Words returns the parameters as xrdtest.KEY=VALUE words, for a kernel
// command line or one OEM string each. Values must not contain spaces,
// quotes or backslashes: neither the kernel's nor the guest's word
// splitting would keep them intact.
func (p BootParams) Words() ([]string, error) {
	if p.Name == "" {
		return nil, fmt.Errorf("boot parameters: no name")
	}
	if strings.Contains(p.Name, "/") {
		return nil, fmt.Errorf("boot parameters: name %q contains '/'", p.Name)
	}
	if p.Master != "" {
		if _, _, err := net.SplitHostPort(p.Master); err != nil {
			return nil, fmt.Errorf("boot parameters: master %q: want HOST:PORT: %v", p.Master, err)
		}
	}
	if p.Gateway != "" && net.ParseIP(p.Gateway) == nil {
		return nil, fmt.Errorf("boot parameters: gateway %q is not an IP address", p.Gateway)
	}
	var words []string
	add := func(key, value string) error {
		if value == "" {
			return nil
		}
		if i := strings.IndexFunc(value, badParamRune); i >= 0 {
			return fmt.Errorf("boot parameters: %s contains %q, which a kernel command line cannot carry", key, value[i])
		}
		words = append(words, "xrdtest."+key+"="+value)
		return nil
	}
	for _, kv := range [][2]string{{"name", p.Name}, {"master", p.Master}, {"token", p.Token}, {"ca", p.CAFingerprint}, {"gw", p.Gateway}} {
		if err := add(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	if p.PowerOffOnExit {
		words = append(words, "xrdtest.poweroff_on_exit=1")
	}
	return words, nil
}

func badParamRune(r rune) bool {
	return r <= ' ' || r >= 0x7f || strings.ContainsRune("\"'\\`$", r)
}

// KernelCmdline returns BaseCmdline followed by the parameters' words.
func KernelCmdline(p BootParams) (string, error) {
	words, err := p.Words()
	if err != nil {
		return "", err
	}
	return BaseCmdline + " " + strings.Join(words, " "), nil
}

// ParseCmdline reads the xrdtest.* words of a kernel command line (or of
// OEM strings joined by spaces) as the guest's /init does: words split at
// white space, a later word overriding an earlier one, other words
// ignored.
func ParseCmdline(cmdline string) BootParams {
	var p BootParams
	for _, w := range strings.Fields(cmdline) {
		key, value, ok := strings.Cut(w, "=")
		if !ok {
			continue
		}
		switch key {
		case "xrdtest.name":
			p.Name = value
		case "xrdtest.master":
			p.Master = value
		case "xrdtest.token":
			p.Token = value
		case "xrdtest.ca":
			p.CAFingerprint = value
		case "xrdtest.gw":
			p.Gateway = value
		case "xrdtest.poweroff_on_exit":
			p.PowerOffOnExit = value == "1"
		}
	}
	return p
}
