#!/usr/bin/env bash
# Usage: tests/fresh-machine.sh   (as root; TAP on stdout)
#        tests/fresh-machine.sh --prepare-root
#
# --prepare-root makes only step 1's root of the day (make check runs it in
# the background while the guest suites leave a core idle; the suite then
# finds it cached, or waits for it); without root it does nothing.
#
# The README's promise, tested as a new user meets it: on a fresh Debian 12
# with only the README's prerequisites installed, `make demo` in a clone of
# the project is the first and only command, run as root, and it succeeds.
#
#  1. A minimal Debian 12 root: `debootstrap --variant=minbase bookworm`
#     from the mirror this machine's apt uses, with the bookworm,
#     bookworm-updates and bookworm-security sources the Debian installer
#     writes. Built once a day and kept pristine as a tarball in
#     ${XDG_CACHE_HOME:-~/.cache}/upcall/fresh-root/<date>.tar; every run
#     unpacks a new copy.
#  2. The README's prerequisites (apt-get install git make), with
#     --no-install-recommends, so nothing a recommended package brings is
#     silently relied upon.
#  3. A clone of the commit under test (HEAD; uncommitted changes are not in
#     it), through a git bundle, by the root's own git.
#  4. `make demo` as root, with a clean environment; passes when the demo
#     prints its final "demo done" line and exits 0.
#
# Shared with the host, to keep the suite short (none of it changes what is
# installed in the root: tools/deps.sh still installs every package there):
#  - the kernel build cache (upcall/kernel) and ccache (upcall/ccache), bind
#    mounted at the root's ~/.cache/upcall: the cache is part of the design
#    (docs/kernel-build.md), and a fresh clone on a machine that built the
#    same inputs must hit it;
#  - downloaded .deb files: upcall/fresh-root/apt-archives is hard-linked
#    into the root's /var/cache/apt/archives before the run and gets the
#    new ones after it; apt checks each file's hash against the new
#    indexes before using it.
# Mounts (/proc, /sys, /dev, /dev/pts, a tmpfs on /tmp, the caches) are
# removed on every exit path, and the copy is deleted only when nothing is
# mounted below it any more.
set -uo pipefail
export LC_ALL=C

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/upcall
ROOTS=$CACHE/fresh-root
SUITE=bookworm
# A hang guard, not a speed goal: a cold kernel build inside takes ~15 min.
DEMO_TIMEOUT=${FRESH_DEMO_TIMEOUT:-45m}

PREPARE=0
case ${1:-} in
--prepare-root) PREPARE=1 ;;
'') ;;
*) echo "usage: tests/fresh-machine.sh [--prepare-root]" >&2; exit 2 ;;
esac

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
note() { printf '# %s\n' "$@"; }
finish() {	# the wall time is printed by cleanup, after the root is gone
	echo "1..$n"
	[[ $failed -eq 0 ]]
	exit
}
bail() {	# a step others depend on failed: report it and stop
	not_ok "$1"
	finish
}
START=$SECONDS TIMES=
timed() { TIMES+="${TIMES:+, }$1 $2 s"; }
WORK='' ROOT='' MOUNTS=()

mounted_below() {	# mount points under $WORK, deepest first
	awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

cleanup() {
	local pid m i t0=$SECONDS
	if [[ -z $WORK ]]; then
		note "fresh-machine: wall time $((SECONDS - START)) s"
		return
	fi
	# Processes still running in the root (a demo's QEMU after a failure):
	# all were started by this run.
	for pid in /proc/[0-9]*; do
		[[ $(readlink "$pid/root" 2>/dev/null) == "$ROOT" ]] && kill -9 "${pid#/proc/}" 2>/dev/null
	done
	sleep 0.2
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}"
	done
	for m in $(mounted_below); do
		umount -l "$m"
	done
	if [[ -n $(mounted_below) ]]; then
		echo "# fresh-machine: still mounted below $WORK, not deleting it:" >&2
		mounted_below >&2
		return
	fi
	rm -rf --one-file-system "$WORK"
	timed cleanup $((SECONDS - t0))
	note "fresh-machine: wall time $((SECONDS - START)) s ($TIMES)"
}

trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [[ $(id -u) -ne 0 ]]; then	# counted as skipped in make check's summary
	((PREPARE)) && exit 0
	echo "ok 1 - # SKIP needs root (debootstrap, chroot, mounts)"
	echo "1..1"
	exit 0
fi
for t in debootstrap chroot git tar; do
	command -v "$t" >/dev/null || bail "$t is installed (tools/deps.sh)"
done

# The archive this machine's apt uses for a suite, from apt's own view of
# its sources (works for sources.list and deb822 files alike).
mirror_of() {
	apt-cache policy | awk -v s="$1/main" '$3 == s && $2 ~ /^https?:/ { print $2; exit }'
}
MIRROR=$(mirror_of $SUITE)
SECURITY=$(mirror_of $SUITE-security)
[[ -n $MIRROR && -n $SECURITY ]] ||
	bail "this machine's apt has $SUITE and $SUITE-security sources (found '$MIRROR', '$SECURITY')"

# --- 1. the pristine root of the day ----------------------------------------
mkdir -p "$ROOTS"
TODAY=$(date -u +%F)
PRISTINE=$ROOTS/$SUITE-minbase-$TODAY.tar

make_pristine() {
	local tmp
	tmp=$(mktemp -d "$ROOTS/.debootstrap.XXXXXX")
	note "debootstrap --variant=minbase $SUITE from $MIRROR (once a day)"
	# debootstrap refuses a --cache-dir that does not exist yet (a fresh
	# machine's cache is empty).
	mkdir -p "$ROOTS/debootstrap-debs"
	if ! debootstrap --variant=minbase --cache-dir="$ROOTS/debootstrap-debs" \
		"$SUITE" "$tmp/root" "$MIRROR" >"$tmp/log" 2>&1; then
		sed 's/^/# /' "$tmp/log" | tail -30
		rm -rf --one-file-system "$tmp"
		return 1
	fi
	# What the Debian 12 installer writes.
	cat >"$tmp/root/etc/apt/sources.list" <<-EOF
		deb $MIRROR $SUITE main
		deb $SECURITY $SUITE-security main
		deb $MIRROR $SUITE-updates main
	EOF
	rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*_*
	tar --numeric-owner -C "$tmp/root" -cf "$tmp/root.tar" . &&
		mv "$tmp/root.tar" "$PRISTINE"
	local rc=$?
	rm -rf --one-file-system "$tmp"
	return $rc
}

t0=$SECONDS
exec 8>"$ROOTS/.lock"
# One debootstrap at a time; concurrent runs (make check's background
# --prepare-root) wait for it.
flock -w 1800 8 || bail "waited 30 min for another debootstrap ($ROOTS/.lock)"
if [[ ! -s $PRISTINE ]]; then
	make_pristine || bail "debootstrap of a minimal $SUITE root"
	# Older days' roots are not used again.
	find "$ROOTS" -maxdepth 1 -name "$SUITE-minbase-*.tar" ! -name "${PRISTINE##*/}" -delete
	how="built today"
else
	how="cached, from $TODAY"
fi
flock -u 8
timed root $((SECONDS - t0))
if ((PREPARE)); then
	echo "fresh-machine: root of $TODAY $how in $((SECONDS - t0)) s"
	exit 0
fi

# --- a private copy, its mounts, and their removal on every exit -----------
WORK=$(mktemp -d "$ROOTS/run.XXXXXX")
ROOT=$WORK/root

mnt() {	# mnt TARGET MOUNT-ARGS...
	local target=$1
	shift
	mkdir -p "$target"
	mount "$@" "$target" || return 1
	MOUNTS+=("$target")
}

mkdir "$ROOT" && tar --numeric-owner -C "$ROOT" -xpf "$PRISTINE" ||
	bail "unpack the pristine root"
mkdir -p "$ROOTS/apt-archives" "$CACHE/kernel" "$CACHE/ccache"
cp -al "$ROOTS/apt-archives/." "$ROOT/var/cache/apt/archives/" 2>/dev/null || true
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mnt "$ROOT/proc" -t proc proc &&
	mnt "$ROOT/sys" --bind /sys &&
	mnt "$ROOT/dev" --bind /dev &&
	mnt "$ROOT/dev/pts" --bind /dev/pts &&
	mnt "$ROOT/tmp" -t tmpfs -o mode=1777 tmpfs &&
	mnt "$ROOT/root/.cache/upcall/kernel" --bind "$CACHE/kernel" &&
	mnt "$ROOT/root/.cache/upcall/ccache" --bind "$CACHE/ccache" ||
	bail "mount /proc, /sys, /dev, /dev/pts, /tmp and the kernel caches in the root"

# Everything inside runs with a clean environment, as a root login would.
in_root() {
	chroot "$ROOT" /usr/bin/env -i HOME=/root USER=root LOGNAME=root TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "$1"
}

# Fresh means fresh: the root must not already have what deps installs.
if in_root "! dpkg-query -W -f='\${db:Status-Abbrev}\n' make gcc pkg-config libjson-c-dev linux-source-6.12 2>/dev/null | grep -q ^ii"; then
	ok "a minimal Debian 12 root ($how): no make, compiler, pkg-config, json-c or kernel source"
else
	bail "the pristine root is not minimal (dpkg lists packages deps installs)"
fi
if in_root 'grep -c "^deb .* bookworm\(-updates\|-security\)\? main$" /etc/apt/sources.list' | grep -qx 3; then
	ok "its apt sources are bookworm, bookworm-updates, bookworm-security ($MIRROR)"
else
	not_ok "its apt sources are bookworm, bookworm-updates, bookworm-security"
fi

# --- 2. the README's prerequisites ------------------------------------------
t0=$SECONDS
if in_root 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
	apt-get install -y -qq --no-install-recommends git make' >"$WORK/prereq.log" 2>&1; then
	ok "the README's prerequisites install: apt-get install git make"
else
	sed 's/^/# /' "$WORK/prereq.log" | tail -20
	bail "the README's prerequisites install: apt-get install git make"
fi
timed prerequisites $((SECONDS - t0))

# --- 3. the project, cloned ---------------------------------------------------
commit=$(git -C "$TOP" rev-parse HEAD)
[[ -z $(git -C "$TOP" status --porcelain --untracked-files=no) ]] ||
	note "the checkout has uncommitted changes; this tests commit ${commit:0:12} without them"
if git -C "$TOP" bundle create "$ROOT/root/upcall.bundle" HEAD 2>"$WORK/bundle.log" &&
	in_root "git -c advice.detachedHead=false clone -q /root/upcall.bundle /root/upcall && cd /root/upcall &&
		test \$(git rev-parse HEAD) = $commit" 2>&1 | sed 's/^/# /'; then
	ok "git clone of the commit under test (${commit:0:12})"
else
	sed 's/^/# /' "$WORK/bundle.log"
	bail "git clone of the commit under test (${commit:0:12})"
fi

# --- 4. the first command -----------------------------------------------------
t0=$SECONDS
note "running 'make demo' as root in the fresh root (deps, build, demo)..."
in_root "cd /root/upcall && timeout $DEMO_TIMEOUT make demo" >"$WORK/demo.log" 2>&1
rc=$?
timed "make demo" $((SECONDS - t0))
# Keep the .deb files for the next run (hard links, no copies), minus the
# ones the archive no longer offers (apt-get autoclean).
in_root 'apt-get autoclean -qq' >/dev/null 2>&1
mkdir "$WORK/apt-archives"
cp -al "$ROOT/var/cache/apt/archives/"*.deb "$WORK/apt-archives/" 2>/dev/null &&
	rm -rf "$ROOTS/apt-archives" && mv "$WORK/apt-archives" "$ROOTS/apt-archives"
if [[ $rc -eq 0 ]] && grep -q '^demo done in [0-9]* s$' "$WORK/demo.log"; then
	sed 's/^/# /' "$WORK/demo.log" | grep -v '^# $' | tail -25
	ok "make demo as the first command in a fresh Debian 12 root succeeds"
else
	sed 's/^/# /' "$WORK/demo.log" | tail -80
	not_ok "make demo as the first command in a fresh Debian 12 root succeeds (exit status $rc)"
fi
finish
