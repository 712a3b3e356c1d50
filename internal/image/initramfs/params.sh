# /etc/xrdtest/params.sh: sourced by /init (bash). Reads the guest's
# parameters, xrdtest.KEY=VALUE words, into shell variables:
#
#   xrdtest.name=FQDN            XRDTEST_NAME (required)
#   xrdtest.master=HOST:PORT     XRDTEST_MASTER (default master.xrd.test:20000)
#   xrdtest.token=TOKEN          XRDTEST_ENROLL_TOKEN (one-time enrollment token)
#   xrdtest.ca=sha256:...        XRDTEST_CA (pin of the master's CA)
#   xrdtest.gw=IP                XRDTEST_GW (default route if the lease has none)
#   xrdtest.poweroff_on_exit=1   XRDTEST_POWEROFF=1 (power off when the slave exits)
#
# Sources, later ones winning: SMBIOS OEM strings (type 11 entries, one word
# each, e.g. libvirt <sysinfo type='smbios'><oemStrings>), then the kernel
# command line. internal/image/params.go (ParseCmdline) implements the same
# rules in Go; a unit test holds the two together.

XRDTEST_NAME=""
XRDTEST_MASTER="master.xrd.test:20000"
XRDTEST_ENROLL_TOKEN=""
XRDTEST_CA=""
XRDTEST_GW=""
XRDTEST_POWEROFF=0

# xrdtest_param WORD: apply one word; others are ignored.
xrdtest_param() {
	case "$1" in
	xrdtest.name=*) XRDTEST_NAME=${1#*=} ;;
	xrdtest.master=*) XRDTEST_MASTER=${1#*=} ;;
	xrdtest.token=*) XRDTEST_ENROLL_TOKEN=${1#*=} ;;
	xrdtest.ca=*) XRDTEST_CA=${1#*=} ;;
	xrdtest.gw=*) XRDTEST_GW=${1#*=} ;;
	xrdtest.poweroff_on_exit=*) [[ ${1#*=} == 1 ]] && XRDTEST_POWEROFF=1 || XRDTEST_POWEROFF=0 ;;
	esac
}

# xrdtest_params_from_string TEXT: the words of TEXT split at white space
# (no globbing: a value is never expanded).
xrdtest_params_from_string() {
	local -a words
	local w
	read -r -d '' -a words <<<"$1" || true
	for w in "${words[@]}"; do xrdtest_param "$w"; done
}

# xrdtest_params_from_oem [DIR]: the OEM strings of every SMBIOS type 11
# entry under DIR (default /sys/firmware/dmi/entries). A raw entry is the
# formatted area (byte 1 holds its length) followed by NUL-terminated
# strings.
xrdtest_params_from_oem() {
	local dir=${1:-/sys/firmware/dmi/entries} raw len s
	for raw in "$dir"/11-*/raw; do
		[[ -r $raw ]] || continue
		len=$(od -An -tu1 -j1 -N1 "$raw" 2>/dev/null) || continue
		len=${len//[[:space:]]/}
		[[ $len =~ ^[0-9]+$ ]] || continue
		while IFS= read -r -d '' s; do
			[[ -n $s ]] && xrdtest_param "$s"
		done < <(tail -c +$((len + 1)) "$raw")
	done
}

# xrdtest_read_params [DMI_DIR [CMDLINE_FILE]]: OEM strings, then the
# kernel command line.
xrdtest_read_params() {
	local cmdline=""
	xrdtest_params_from_oem "${1:-}"
	[[ -r ${2:-/proc/cmdline} ]] && cmdline=$(<"${2:-/proc/cmdline}")
	xrdtest_params_from_string "$cmdline"
}
