package lvxml

import (
	"path"
	"strings"
)

// DomainName is the libvirt domain of a host: <cluster>_<host>.
func DomainName(cluster, host string) string { return cluster + "_" + host }

// NetworkName is the libvirt network of a cluster: <cluster>_<network>.
func NetworkName(cluster, network string) string { return cluster + "_" + network }

// OverlayVolumeName is the qcow2 overlay a host boots from:
// <cluster>_<host>.qcow2.
func OverlayVolumeName(cluster, host string) string { return DomainName(cluster, host) + ".qcow2" }

// DataVolumeName is a host's data disk: <cluster>_<host>_<disk>.img.
func DataVolumeName(cluster, host, disk string) string {
	return DomainName(cluster, host) + "_" + disk + ".img"
}

// KernelVolumeNames are the kernel and initrd beside a boot image in the
// pool that make the backend boot the kernel directly:
// <image without extension>.vmlinuz and .initrd.img (LegacyInitrdName:
// .initrd.gz, as images were installed before).
func KernelVolumeNames(bootImage string) (kernel, initrd string) {
	base := imageBase(bootImage)
	return base + ".vmlinuz", base + ".initrd.img"
}

// LegacyInitrdName is the initrd's name in pools filled by earlier
// versions (gzip-compressed then; the kernel reads either).
func LegacyInitrdName(bootImage string) string { return imageBase(bootImage) + ".initrd.gz" }

func imageBase(bootImage string) string {
	base := strings.TrimSuffix(bootImage, path.Ext(bootImage))
	if base == "" {
		base = bootImage
	}
	return base
}

// shortName is the first label of a host name.
func shortName(host string) string {
	s, _, _ := strings.Cut(host, ".")
	return s
}

// ConsoleFile is the serial console log of a domain, relative to StateDir.
func ConsoleFile(domain string) string { return path.Join("console", domain+".log") }

// OwnsVolumeName says whether a volume name belongs to the cluster's
// naming scheme; Purge and cleanup never delete a volume without it.
func OwnsVolumeName(cluster, vol string) bool {
	return strings.HasPrefix(vol, cluster+"_") && (strings.HasSuffix(vol, ".qcow2") || strings.HasSuffix(vol, ".img"))
}
