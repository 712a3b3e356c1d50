#!/usr/bin/env bash
# libvirt-env.sh - a private libvirtd for the libvirt backend's integration
# tests, with every process and every packet kept inside one network
# namespace (adapted from shared/recipes/vm-lab.sh).
#
#   libvirt-env.sh start   install packages if missing, build the probe guest,
#                          create the netns, start a private virtlogd + libvirtd
#                          in it, define and start the dir pool; prints
#                          XRDTEST_LIBVIRT_URI=..., XRDTEST_LIBVIRT_POOL=...,
#                          XRDTEST_LIBVIRT_POOL_DIR=... and
#                          XRDTEST_LIBVIRT_TEST_IMAGE=... (eval-able lines)
#   libvirt-env.sh env     print those lines again (daemon must be up)
#   libvirt-env.sh exec CMD [ARG...]
#                          start (as above), then run CMD with those variables
#                          in its environment; the daemons stay up after it
#   libvirt-env.sh status  namespace, daemons, domains, networks, volumes
#   libvirt-env.sh stop    remove every domain, network and volume of the
#                          private daemon, stop the daemons, delete the netns,
#                          and check that nothing is left: no netns, no daemon
#                          or qemu of ours, no new bridge in the root namespace
#   libvirt-env.sh purge   stop + delete the work dir (downloads, guest)
#
# Settings (environment, default in brackets):
#   XRDTEST_LIBVIRT_ENV_DIR   work dir [/var/tmp/xrdtest-libvirt-env]
#   XRDTEST_LIBVIRT_NETNS     network namespace [xrdtest-lv]
#   XRDTEST_LIBVIRT_POOL      storage pool name [xrdtest]
#   XRDTEST_LIBVIRT_KERNEL_PKG guest kernel package [what linux-image-cloud-amd64 pulls]
#
# The probe guest (the test image) is a Debian cloud kernel plus a busybox
# initramfs, installed in the pool as xrdtest-probe.{qcow2,vmlinuz,initrd.gz}
# (the naming the libvirt backend uses for direct kernel boot). Its /init
# loads the virtio modules, takes a DHCP lease, and writes to the serial
# console lines starting with "xrdtest-probe:": its xrdtest.* kernel
# parameters, its lease and hostname, whether each /dev/vd* holds ext4, and
# the A records of every name in xrdtest.probe=a,b,c; then "done".
#
# Must run as root. Nothing here touches the host's own libvirtd, its
# 'default' network, or any interface outside the namespace; the namespace
# has no route out. Package scripts are kept from starting services in the
# root namespace by a policy-rc.d that answers 101.

set -Eeuo pipefail
shopt -s nullglob

PROG=${0##*/}
SELF=$(readlink -f -- "${BASH_SOURCE[0]}")

NETNS=${XRDTEST_LIBVIRT_NETNS:-xrdtest-lv}
POOL=${XRDTEST_LIBVIRT_POOL:-xrdtest}
IMAGE=xrdtest-probe            # pool files: IMAGE.qcow2, IMAGE.vmlinuz, IMAGE.initrd.gz
GUEST_MODULES=(virtio_pci virtio_net virtio_blk)   # plus their deps, from modules.dep
PACKAGES=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients nftables
	dnsmasq-base e2fsprogs busybox-static iproute2)
BUSYBOX=/bin/busybox           # from busybox-static: goes into the guest

log() { printf '[libvirt-env %(%T)T] %s\n' -1 "$*" >&2; }
die() { printf 'libvirt-env: error: %s\n' "$*" >&2; exit 1; }
on_err() { printf 'libvirt-env: error: "%s" failed (exit %s) at line %s\n' "$2" "$1" "$3" >&2; }
trap 'on_err $? "$BASH_COMMAND" $LINENO' ERR

now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
secs() { printf '%d.%01d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }

need_root() { [[ $EUID -eq 0 ]] || die "run as root (netns, bind mounts, libvirt system mode)"; }

init_paths() {
	WORK=$(realpath -m -- "${XRDTEST_LIBVIRT_ENV_DIR:-/var/tmp/xrdtest-libvirt-env}")
	# The path ends up in a libvirt URI and in libvirt XML: keep it plain.
	[[ $WORK =~ ^[A-Za-z0-9._/+-]+$ ]] || die "work dir '$WORK' has characters other than [A-Za-z0-9._/+-]"
	CACHE=$WORK/cache      # downloaded kernel package, unpacked tree, built guest
	GUEST=$CACHE/guest
	NSROOT=$WORK/ns        # sources of the bind mounts the private libvirtd sees
	PIDS=$WORK/pids
	LOGS=$WORK/logs
	POOL_DIR=$WORK/pool
	SOCK=$NSROOT/run/libvirt-sock
	URI="qemu+unix:///system?socket=$SOCK"
	((${#SOCK} < 100)) || die "socket path $SOCK is too long for a unix socket; use a shorter XRDTEST_LIBVIRT_ENV_DIR"
}

vsh() { virsh -q -c "$URI" "$@"; }

netns_exists() { [[ -e /run/netns/$NETNS ]]; }

# True when PID lives in our namespace: the only processes we ever signal.
in_netns() {
	local pid=$1 want
	netns_exists || return 1
	want="net:[$(stat -L -c %i "/run/netns/$NETNS")]"
	[[ $(readlink "/proc/$pid/ns/net" 2>/dev/null) == "$want" ]]
}

pid_of() { # pid_of NAME: pid from $PIDS/NAME.pid if that process is alive in our netns
	local f=$PIDS/$1.pid pid
	[[ -s $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && in_netns "$pid" || return 1
	echo "$pid"
}

stop_pid() { # stop_pid PID LABEL: TERM, wait up to 15 s, then KILL (only inside our netns)
	local pid=$1 label=$2 i
	in_netns "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || { log "stopped $label (pid $pid)"; return 0; }
		sleep 0.1
	done
	log "$label (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	log "warning: $label (pid $pid) still present after SIGKILL"
}

daemons_up() { pid_of libvirtd >/dev/null && [[ -S $SOCK ]]; }

root_bridges() { ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }

# ---------------------------------------------------------------- packages

install_packages() {
	local p missing=() made_policy=0 rc=0
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		log "packages: all present"
		return 0
	fi
	log "packages: installing ${missing[*]}"
	# Package scripts would start libvirtd (and its NAT 'default' network) in
	# the root namespace. A policy-rc.d that answers 101 forbids that.
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\n# temporary, from libvirt-env.sh: no service starts during install\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } ||
		rc=$?
	((made_policy)) && rm -f /usr/sbin/policy-rc.d
	((rc == 0)) || die "apt-get failed (exit $rc); is a Debian mirror reachable?"
}

# ---------------------------------------------------------------- probe guest

fetch_kernel() {
	local pkg=${XRDTEST_LIBVIRT_KERNEL_PKG:-} debs=$CACHE/debs
	if [[ -f $CACHE/kernel.ok ]]; then
		log "kernel: cached ($(<"$CACHE/kernel.ok"))"
		return 0
	fi
	if [[ -z $pkg ]]; then
		pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
		[[ -n $pkg ]] || { apt-get update -q >/dev/null; pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'); }
		[[ -n $pkg ]] || die "cannot resolve linux-image-cloud-amd64 to a kernel package; set XRDTEST_LIBVIRT_KERNEL_PKG"
	fi
	rm -rf "$debs" "$CACHE/kernel"
	mkdir -p "$debs"
	# apt-get download runs unsandboxed as root here; its warning about that is noise.
	(cd "$debs" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed') || true
	local deb=("$debs"/*.deb)
	((${#deb[@]} == 1)) || die "apt-get download $pkg produced no .deb in $debs"
	dpkg -x "${deb[0]}" "$CACHE/kernel"
	echo "$pkg" >"$CACHE/kernel.ok"
	log "kernel: $pkg"
}

# Print the .ko paths (relative to the module dir) needed for GUEST_MODULES,
# dependencies first. The cloud kernel has virtio as modules, not built in.
module_load_order() {
	local moddir=$1 key deps name m
	local -A DEP=() BYNAME=() SEEN=()
	local order=()
	while IFS=: read -r key deps; do
		DEP[$key]=$deps
		name=${key##*/}
		name=${name%%.ko*}
		BYNAME[${name//-/_}]=$key
	done <"$moddir/modules.dep"
	visit() {
		local k=$1 d
		[[ -n ${SEEN[$k]:-} ]] && return 0
		SEEN[$k]=1
		for d in ${DEP[$k]}; do visit "$d"; done
		order+=("$k")
	}
	for m in "${GUEST_MODULES[@]}"; do
		[[ -n ${BYNAME[$m]:-} ]] || die "module $m not in $moddir/modules.dep (built in? renamed?)"
		visit "${BYNAME[$m]}"
	done
	printf '%s\n' "${order[@]}"
}

write_guest_init() { # /init of the probe guest: PID 1, busybox ash, must never exit
	cat <<'EOF'
#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp

say() { echo "xrdtest-probe: $*"; }
param() { # value of xrdtest.NAME=... on the kernel command line
	for w in $(cat /proc/cmdline); do
		case "$w" in "xrdtest.$1="*) echo "${w#*=}"; return ;; esac
	done
}
say "init uptime=$(cut -d' ' -f1 /proc/uptime)"
for w in $(cat /proc/cmdline); do
	case "$w" in xrdtest.*) say "param $w" ;; esac
done
GW=$(param gw)

# virtio drivers are modules in the cloud kernel; load.list is in dependency order
while read -r m; do insmod "/lib/modules/$m" || say "insmod $m failed"; done </lib/modules/load.list

ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
udhcpc -i eth0 -s /etc/udhcpc.sh -t 30 -T 1 -A 2 -n -O hostname -O domain || say "dhcp failed"
IP=$(cat /run/probe.ip 2>/dev/null)
DNS=$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf 2>/dev/null)
[ -n "$DNS" ] || DNS=$GW
say "lease ip=$IP hostname=$(hostname) dns=$DNS uptime=$(cut -d' ' -f1 /proc/uptime)"

for b in /sys/block/vd*; do
	[ -e "$b" ] || continue
	d=${b##*/}
	magic=$(dd if=/dev/$d bs=1 skip=1080 count=2 2>/dev/null | hexdump -v -e '1/1 "%02x"')
	if [ "$magic" = "53ef" ]; then fs=ext4; else fs=none; fi
	say "disk $d fs=$fs sectors=$(cat $b/size)"
done

# -type=a: busybox asks A and AAAA with one query id and then waits 5 s per
# name for the empty AAAA answer; we only want IPv4 anyway.
lookup() { nslookup -type=a "$1" "$DNS" 2>/dev/null | awk '/^Name:/ {f = 1; next} f && /^Address/ {print $NF}'; }
for n in $(param probe | tr ',' ' '); do
	a=$(lookup "$n" | sort | tr '\n' ',')
	say "resolve $n=${a%,}"
done
say "done uptime=$(cut -d' ' -f1 /proc/uptime)"
while :; do sleep 3600; done
EOF
}

write_udhcpc_script() { # udhcpc calls this with deconfig|bound|renew|leasefail
	cat <<'EOF'
#!/bin/sh
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	if ! ip -4 addr show dev "$interface" | grep -q " $ip/"; then
		ip -4 addr flush dev "$interface"
		ip addr add "$ip/${mask:-24}" dev "$interface"
	fi
	# an isolated libvirt network sends no router option; then no default route
	[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
	{
		[ -n "$domain" ] && echo "search $domain"
		for s in $dns; do echo "nameserver $s"; done
	} >/etc/resolv.conf
	[ -n "$hostname" ] && hostname "$hostname"
	echo "$ip" >/run/probe.ip
	;;
esac
exit 0
EOF
}

build_guest() {
	local kdir=$CACHE/kernel kimg kver moddir root=$CACHE/initramfs rel a n=0 order
	if [[ -s $GUEST/vmlinuz && -s $GUEST/initrd.gz && -f $GUEST/built-from && $(<"$GUEST/built-from") == "$(sha256sum "$SELF" | cut -d' ' -f1)" ]]; then
		log "guest: cached"
		return 0
	fi
	fetch_kernel
	kimg=("$kdir"/boot/vmlinuz-*)
	((${#kimg[@]} == 1)) || die "expected one vmlinuz in $kdir/boot"
	kver=${kimg[0]##*/vmlinuz-}
	for moddir in "$kdir/lib/modules/$kver" "$kdir/usr/lib/modules/$kver" ""; do
		[[ -d $moddir ]] && break
	done
	[[ -n $moddir ]] || die "no modules dir for $kver in $kdir"
	# The .deb ships no modules.dep (depmod runs at install): make one.
	[[ -s $moddir/modules.dep ]] || "$BUSYBOX" depmod -b "${moddir%/lib/modules/*}" "$kver" ||
		die "depmod for $kver failed"

	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,lib/modules}
	cp "$BUSYBOX" "$root/bin/busybox"
	for a in $("$BUSYBOX" --list-full); do
		[[ -e $root/$a ]] || ln -s /bin/busybox "$root/$a"
	done
	: >"$root/lib/modules/load.list"
	order=$(module_load_order "$moddir")
	for rel in $order; do
		install -D -m 0644 "$moddir/$rel" "$root/lib/modules/$rel"
		echo "$rel" >>"$root/lib/modules/load.list"
		n=$((n + 1))
	done
	write_guest_init >"$root/init"
	write_udhcpc_script >"$root/etc/udhcpc.sh"
	chmod 0755 "$root/init" "$root/etc/udhcpc.sh"
	echo "probe" >"$root/etc/hostname"
	# The kernel opens /dev/console before /init runs: it must be in the archive.
	mknod -m 0600 "$root/dev/console" c 5 1
	mknod -m 0666 "$root/dev/null" c 1 3

	mkdir -p "$GUEST"
	(cd "$root" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$GUEST/initrd.gz.new"
	mv "$GUEST/initrd.gz.new" "$GUEST/initrd.gz"
	cp "${kimg[0]}" "$GUEST/vmlinuz"
	sha256sum "$SELF" | cut -d' ' -f1 >"$GUEST/built-from"
	log "guest: kernel $kver, $n modules, initrd $(du -k "$GUEST/initrd.gz" | cut -f1) KiB"
}

# The pool's files: the boot volume and the kernel + initrd beside it.
install_guest() {
	mkdir -p "$POOL_DIR"
	cp "$GUEST/vmlinuz" "$POOL_DIR/$IMAGE.vmlinuz"
	cp "$GUEST/initrd.gz" "$POOL_DIR/$IMAGE.initrd.gz"
	[[ -f $POOL_DIR/$IMAGE.qcow2 ]] || qemu-img create -q -f qcow2 "$POOL_DIR/$IMAGE.qcow2" 64M
}

# ---------------------------------------------------------------- daemons

make_netns() {
	if netns_exists; then
		log "netns $NETNS exists; reusing it"
	else
		ip netns add "$NETNS" || die "ip netns add $NETNS failed"
	fi
	ip -n "$NETNS" link set lo up
}

write_daemon_configs() {
	local etc=$NSROOT/etc
	mkdir -p "$etc"
	cat >"$etc/libvirtd.conf" <<-'EOF'
		# private libvirtd of libvirt-env.sh: root only, no polkit, no TCP
		unix_sock_ro_perms = "0700"
		unix_sock_rw_perms = "0700"
		unix_sock_admin_perms = "0700"
		auth_unix_ro = "none"
		auth_unix_rw = "none"
		max_client_requests = 32
		log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
	EOF
	cat >"$etc/virtlogd.conf" <<-'EOF'
		log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
	EOF
	# See vm-lab.sh: user/group root (else each start hangs ~52 s and fails
	# with Permission denied), no chown/labels, qemu stderr to a file, libvirt
	# out of the host's cgroup tree, no private /dev per qemu.
	cat >"$etc/qemu.conf" <<-'EOF'
		user = "root"
		group = "root"
		security_driver = "none"
		stdio_handler = "file"
		dynamic_ownership = 0
		remember_owner = 0
		cgroup_controllers = [ ]
		namespaces = [ ]
	EOF
}

# Runs inside the netns, in a private mount namespace (see start_daemons):
# hide the host's libvirt dirs behind ours, then start virtlogd and libvirtd.
cmd___daemons() {
	local d
	for d in etc run lib cache log; do mkdir -p "$NSROOT/$d"; done
	bindm() { # bind SRC over DST; a DST we had to create is noted for stop
		if [[ ! -d $2 ]]; then
			mkdir -p "$2"
			echo "$2" >>"$WORK/created-dirs"
		fi
		mount --bind "$1" "$2"
	}
	bindm "$NSROOT/etc" /etc/libvirt
	bindm "$NSROOT/run" /run/libvirt
	bindm "$NSROOT/lib" /var/lib/libvirt
	bindm "$NSROOT/cache" /var/cache/libvirt
	bindm "$NSROOT/log" /var/log/libvirt
	# No upstream DNS servers, no host firewalld or polkit over D-Bus.
	: >"$NSROOT/resolv.conf"
	[[ -e /etc/resolv.conf ]] && mount --bind "$NSROOT/resolv.conf" /etc/resolv.conf
	mkdir -p "$NSROOT/dbus"
	[[ -d /run/dbus ]] && mount --bind "$NSROOT/dbus" /run/dbus
	virtlogd --daemon --config /etc/libvirt/virtlogd.conf --pid-file "$PIDS/virtlogd.pid"
	# explicit pid file: the default /run/libvirtd.pid is shared with the host's daemon
	exec libvirtd --config /etc/libvirt/libvirtd.conf --pid-file "$PIDS/libvirtd.pid"
}

start_daemons() {
	local i wrapper p
	if daemons_up; then
		log "libvirtd already running (pid $(pid_of libvirtd))"
		return 0
	fi
	if p=$(pid_of libvirtd); then stop_pid "$p" libvirtd; fi
	if p=$(pid_of virtlogd); then stop_pid "$p" virtlogd; fi
	mkdir -p "$PIDS" "$LOGS" "$NSROOT"
	rm -f "$PIDS/libvirtd.pid" "$PIDS/virtlogd.pid"
	rm -rf "$NSROOT/run"   # stale sockets and runtime state of an earlier run
	write_daemon_configs
	export XRDTEST_LIBVIRT_ENV_DIR=$WORK XRDTEST_LIBVIRT_NETNS=$NETNS
	# The daemons outlive this script: they must not hold the caller's
	# stdout (fd 3, fd 4 in exec), or a reader of it waits for them.
	setsid ip netns exec "$NETNS" unshare --mount --propagation private -- "$SELF" __daemons \
		</dev/null >>"$LOGS/daemons.log" 2>&1 3>&- 4>&- &
	wrapper=$!
	for ((i = 0; i < 900; i++)); do   # bounded: 90 s (first start probes QEMU)
		if [[ -S $SOCK ]] && vsh version >/dev/null 2>&1; then break; fi
		if ! kill -0 "$wrapper" 2>/dev/null; then
			tail -n 20 "$LOGS/daemons.log" >&2 || true
			die "libvirtd exited during start; see $LOGS/daemons.log and $NSROOT/log/libvirtd.log"
		fi
		sleep 0.1
	done
	daemons_up || die "libvirtd did not answer on $SOCK within 90 s; see $NSROOT/log/libvirtd.log"
	log "libvirtd pid $(pid_of libvirtd), virtlogd pid $(pid_of virtlogd || echo '?')"
	if vsh net-list --all --name | grep -q .; then
		die "private libvirtd unexpectedly has networks: $(vsh net-list --all --name | tr '\n' ' ')"
	fi
}

start_pool() {
	if ! vsh pool-info "$POOL" >/dev/null 2>&1; then
		vsh pool-define-as "$POOL" dir --target "$POOL_DIR" >/dev/null || die "pool-define-as $POOL failed"
	fi
	if [[ $(vsh pool-info "$POOL" | awk '/^State:/ {print $2}') != running ]]; then
		vsh pool-start "$POOL" >/dev/null || die "pool-start $POOL failed"
	fi
	vsh pool-refresh "$POOL" >/dev/null
	log "pool $POOL at $POOL_DIR: $(vsh vol-list "$POOL" | wc -l) volumes"
}

# The environment goes to fd 3, the caller's stdout (see main): with every
# other stdout sent to stderr, no tool's output can be taken for it.
print_env() {
	local kv
	for kv in "XRDTEST_LIBVIRT_URI=$URI" "XRDTEST_LIBVIRT_POOL=$POOL" \
		"XRDTEST_LIBVIRT_POOL_DIR=$POOL_DIR" "XRDTEST_LIBVIRT_TEST_IMAGE=$IMAGE.qcow2"; do
		[[ $kv =~ $ENV_LINE ]] || die "internal: '$kv' is not a plain NAME=value line"
		printf '%s\n' "$kv" >&3
	done
}

cmd_start() {
	need_root
	local t0
	t0=$(now_ms)
	mkdir -p "$WORK"
	touch "$WORK/.xrdtest-libvirt-env"   # marker: 'purge' only deletes a dir that has it
	# bridges in the root namespace before we start: 'stop' checks none was added
	[[ -f $WORK/root-bridges.before ]] || root_bridges >"$WORK/root-bridges.before"
	install_packages
	build_guest
	install_guest
	make_netns
	start_daemons
	start_pool
	if [[ -w /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
		log "note: KVM looks usable here"
	fi
	log "started in $(secs $(($(now_ms) - t0)))"
	print_env
}

cmd_env() {
	daemons_up || die "private libvirtd is not running; run '$PROG start'"
	print_env
}

leftover_procs() { # processes that mention our work dir (qemu has the kernel path in argv)
	local p out=""
	for p in /proc/[0-9]*; do
		[[ ${p#/proc/} == "$$" || ${p#/proc/} == "$BASHPID" ]] && continue
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$WORK/"; then
			out+="${p#/proc/} $(tr '\0' ' ' <"$p/cmdline" | cut -c1-100)"$'\n'
		fi
	done
	printf '%s' "$out"
}

cmd_stop() {
	need_root
	local p d n v left bad=0 before after
	if netns_exists && daemons_up; then
		# Everything in the private daemon was made by tests: remove it all.
		for d in $(vsh list --all --name); do
			vsh destroy "$d" >/dev/null 2>&1 || true
			vsh undefine "$d" >/dev/null 2>&1 || log "warning: undefine $d failed"
		done
		for n in $(vsh net-list --all --name); do
			vsh net-destroy "$n" >/dev/null 2>&1 || true
			vsh net-undefine "$n" >/dev/null 2>&1 || log "warning: net-undefine $n failed"
		done
		if vsh pool-info "$POOL" >/dev/null 2>&1; then
			vsh pool-destroy "$POOL" >/dev/null 2>&1 || true
			vsh pool-undefine "$POOL" >/dev/null 2>&1 || log "warning: pool-undefine $POOL failed"
		fi
	fi
	if p=$(pid_of libvirtd); then stop_pid "$p" libvirtd; fi
	if p=$(pid_of virtlogd); then stop_pid "$p" virtlogd; fi
	if netns_exists; then
		# Anything still in our namespace (dnsmasq, a stray qemu) was started by us.
		for p in $(ip netns pids "$NETNS"); do
			stop_pid "$p" "$(cat "/proc/$p/comm" 2>/dev/null || echo process)"
		done
		ip netns delete "$NETNS" || die "ip netns delete $NETNS failed"
	fi
	rm -rf "$PIDS" "$NSROOT/run" "$POOL_DIR"
	if [[ -f $WORK/created-dirs ]]; then   # empty mount points we had to create on the host
		sort -ru "$WORK/created-dirs" | while read -r p; do rmdir -- "$p" 2>/dev/null || true; done
		rm -f "$WORK/created-dirs"
	fi

	# Checks: no netns, no process of ours, no bridge added in the root namespace.
	if netns_exists; then log "check: netns $NETNS still present"; bad=1; fi
	left=$(leftover_procs)
	if [[ -n $left ]]; then printf 'leftover processes:\n%s' "$left" >&2; bad=1; fi
	if [[ -f $WORK/root-bridges.before ]]; then
		after=$(root_bridges)
		before=$(<"$WORK/root-bridges.before")
		v=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
		if [[ -n $v ]]; then log "check: new bridge(s) in the root namespace: $v"; bad=1; fi
		rm -f "$WORK/root-bridges.before"
	fi
	((bad == 0)) || die "stop incomplete"
	log "stopped: no domain, network, daemon or netns left; no bridge in the root namespace"
}

cmd_status() {
	need_root
	echo "work dir : $WORK"
	echo "netns    : $(netns_exists && echo "$NETNS present" || echo "$NETNS absent")"
	echo "libvirtd : $(pid_of libvirtd || echo 'not running')"
	echo "virtlogd : $(pid_of virtlogd || echo 'not running')"
	echo "uri      : $URI"
	if daemons_up; then
		echo "networks :"; vsh net-list --all | sed 's/^/  /'
		echo "domains  :"; vsh list --all | sed 's/^/  /'
		echo "volumes  :"; vsh vol-list "$POOL" 2>/dev/null | sed 's/^/  /'
	fi
	return 0
}

cmd_purge() {
	need_root
	cmd_stop
	if [[ -d $WORK ]]; then
		[[ -f $WORK/.xrdtest-libvirt-env ]] || die "$WORK has no .xrdtest-libvirt-env marker; not deleting it"
		rm -rf -- "$WORK"
		log "purge: removed $WORK"
	fi
}

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "$SELF" | sed -n '1,/^Settings/p' | sed '$d'; }

# What start and env print, one line each; scripts/test.sh checks the same.
ENV_LINE='^XRDTEST_LIBVIRT_[A-Z_]+=[A-Za-z0-9._/:?=+-]+$'

main() {
	local cmd=${1:-help}
	shift || true
	init_paths
	case $cmd in
	start | env)
		# The caller reads stdout as the environment: keep it for print_env
		# (fd 3) and send everything else, ours and every tool's, to stderr.
		exec 3>&1 1>&2
		"cmd_$cmd"
		;;
	exec)
		(($# > 0)) || die "exec needs a command to run"
		exec 3>/dev/null 4>&1 1>&2
		cmd_start
		export XRDTEST_LIBVIRT_URI=$URI XRDTEST_LIBVIRT_POOL=$POOL XRDTEST_LIBVIRT_POOL_DIR=$POOL_DIR \
			XRDTEST_LIBVIRT_TEST_IMAGE=$IMAGE.qcow2
		trap - ERR
		exec "$@" 1>&4 4>&- 3>&-
		;;
	stop) cmd_stop ;;
	status) cmd_status ;;
	purge) cmd_purge ;;
	__daemons) cmd___daemons ;;
	help | -h | --help) usage ;;
	*) usage >&2; die "unknown command '$cmd'" ;;
	esac
}

main "$@"
