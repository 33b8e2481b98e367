#!/usr/bin/env bash
# Builds the guest kernel (bzImage) from the pinned Debian kernel source,
# patched with kernel-patches/series and configured from tinyconfig plus
# config fragments, and keeps the result in a cache outside the checkout.
# Run with --help for the interface; docs/kernel-build.md explains the cache.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
# The kernel source and its pinned version: a line of
# tools/kernel-sources.txt, the one place pins are kept (tools/deps.sh
# installs exactly that version). The kernel line (--line LINE or
# KERNEL_LINE, e.g. 6.1) picks `linux-source-LINE`; by default the first
# pin. Its series is kernel-patches/ for the first pin, kernel-patches/LINE/
# for the others (devmgr/lines.sh), its config fragments
# kernel-patches/config/*.config plus kernel-patches/config/LINE/*.config.
KERNEL_LINE=${KERNEL_LINE:-}
ARGS=("$@")
for i in "${!ARGS[@]}"; do
	[[ ${ARGS[$i]} == --line ]] && KERNEL_LINE=${ARGS[$((i + 1))]:-}
done
PINS=$(sed -e 's/#.*//' "$TOP/tools/kernel-sources.txt" | grep '[^[:space:]]' || true)
read -r KERNEL_PKG KERNEL_PKG_VERSION < <(head -1 <<<"$PINS")
[[ -n ${KERNEL_PKG_VERSION:-} ]] || { echo "kernel-build: error: no pin in tools/kernel-sources.txt" >&2; exit 1; }
DEFAULT_PATCH_DIR=$TOP/kernel-patches
if [[ -n $KERNEL_LINE && linux-source-$KERNEL_LINE != "$KERNEL_PKG" ]]; then
	read -r KERNEL_PKG KERNEL_PKG_VERSION < <(awk -v p="linux-source-$KERNEL_LINE" '$1 == p' <<<"$PINS") || true
	[[ -n ${KERNEL_PKG_VERSION:-} ]] ||
		{ echo "kernel-build: error: no pin for kernel line '$KERNEL_LINE' in tools/kernel-sources.txt" >&2; exit 1; }
	DEFAULT_PATCH_DIR=$TOP/kernel-patches/$KERNEL_LINE
fi
KERNEL_LINE=${KERNEL_PKG#linux-source-}
KERNEL_TARBALL=/usr/src/$KERNEL_PKG.tar.xz
# Bump when a change to this script changes what it builds, so old cache
# entries are not reused.
SCRIPT_VERSION=1
JOBS=2
# How long to wait for another build of the same entry: a cold debug
# kernel on a loaded 2-core machine took 66 min.
KERNEL_BUILD_LOCK_WAIT_S=${KERNEL_BUILD_LOCK_WAIT_S:-7200}

# KERNEL_PATCH_DIR: another patches folder (series + *.patch), for tests.
PATCH_DIR=${KERNEL_PATCH_DIR:-$DEFAULT_PATCH_DIR}
SERIES=$PATCH_DIR/series
WORK_ROOT=$TOP/build/kernel
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/upcall/kernel

usage() {
	cat <<EOF
Usage: tools/kernel-build.sh [--line LINE] [--config FRAG]... [--out FILE] [--headers DIR]
                             [--source-tarball FILE --source-version V]
       tools/kernel-build.sh --print-key [--config FRAG]...
       tools/kernel-build.sh --verify-config DOTCONFIG [--config FRAG]...

Builds bzImage from $KERNEL_PKG $KERNEL_PKG_VERSION ($KERNEL_TARBALL):
extracts a fresh tree under build/kernel/, applies the patches named in
kernel-patches/series in order, runs 'make tinyconfig', merges the config
fragments, runs 'olddefconfig', checks that every option the fragments ask
for holds in the final .config, and builds with 'nice -n 10 make -j$JOBS'.

Results are cached in \${XDG_CACHE_HOME:-\$HOME/.cache}/upcall/kernel/<key>/
(bzImage and config). The key is a hash of the source package version, the
series file, every patch it names, the fragments and this script's version.
A cache hit copies the files and extracts nothing.

  --line LINE     kernel line to build (a pin of tools/kernel-sources.txt,
                  linux-source-LINE; default: the first, $(head -1 <<<"$PINS" | awk '{print $1}'));
                  also KERNEL_LINE=LINE. Patches from kernel-patches/LINE/
                  unless it is the first line
  --config FRAG   config fragment to merge (repeatable, in the order given;
                  default: kernel-patches/config/*.config, sorted)
  --out FILE      where to copy bzImage (default: build/guest/bzImage);
                  the final .config is copied next to it as FILE.config
  --headers DIR   install the UAPI headers of the unpatched source into
                  DIR/include (make headers_install INSTALL_HDR_PATH=DIR),
                  cached by source version. Alone, it builds no kernel.
  --source-tarball FILE --source-version V
                  build from FILE, the tarball of $KERNEL_PKG version V
                  (e.g. unpacked from a downloaded .deb), instead of the
                  installed pinned one; V goes into the cache key. For
                  'make kernel-latest', which tries a newer version
  --print-key     print the cache key for the given inputs and exit
  --verify-config DOTCONFIG
                  only check that DOTCONFIG satisfies the fragments
  -h, --help      this text

Prints the path of the bzImage (or headers) and one line saying whether
the cache was hit. Concurrent builds of one key wait for each other.

Environment: XDG_CACHE_HOME moves the cache; KERNEL_PATCH_DIR reads series
and patches from another folder (tests); KERNEL_BUILD_LOCK_WAIT_S bounds
the wait for a concurrent build of the same entry (default 7200).
EOF
}

die() {
	echo "kernel-build: error: $*" >&2
	exit 1
}

log() {
	echo "kernel-build: $*" >&2
}

check_source() {
	local have
	if [[ -n $SOURCE_TARBALL ]]; then
		[[ -r $SOURCE_TARBALL ]] || die "$SOURCE_TARBALL is not readable"
		KERNEL_TARBALL=$SOURCE_TARBALL KERNEL_PKG_VERSION=$SOURCE_VERSION
		return
	fi
	have=$(dpkg-query -W -f='${Version}' "$KERNEL_PKG" 2>/dev/null) ||
		die "$KERNEL_PKG is not installed (run tools/deps.sh)"
	[[ $have == "$KERNEL_PKG_VERSION" ]] ||
		die "$KERNEL_PKG $have is installed, but the build is pinned to $KERNEL_PKG_VERSION; run tools/deps.sh to install the pinned version, or move the pin in tools/kernel-sources.txt (docs/kernel-build.md: make kernel-latest first)"
	[[ -r $KERNEL_TARBALL ]] || die "$KERNEL_TARBALL is missing"
}

# Patch files named by the series file, in order; blank lines and comments
# are skipped. No series file means no patches.
series_patches() {
	[[ -f $SERIES ]] || return 0
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$SERIES" |
		grep -v '^$' || true
}

# Hash of everything that determines the bzImage.
cache_key() {
	local p
	{
		echo "script $SCRIPT_VERSION"
		echo "source $KERNEL_PKG $KERNEL_PKG_VERSION"
		echo "series"
		[[ -f $SERIES ]] && cat "$SERIES"
		while IFS= read -r p; do
			echo "patch $p"
			sha256sum <"$PATCH_DIR/$p"
		done < <(series_patches)
		for p in "${FRAGS[@]}"; do
			echo "fragment $(basename "$p")"
			sha256sum <"$p"
		done
	} | sha256sum | cut -c1-16
}

# Copies a finished cache entry's files to their destination (atomically:
# a temporary file and a rename, so make never sees half a bzImage).
install_file() {
	local src=$1 dst=$2
	mkdir -p "$(dirname "$dst")"
	cp "$src" "$dst.tmp.$$"
	mv -f "$dst.tmp.$$" "$dst"
}

# Serialises builds of one cache entry: a second `make` (or another
# engineer's) waits for the running build and then takes its result,
# instead of building the same kernel twice at once. The lock is released
# when the script exits.
lock_entry() {
	local name=$1
	mkdir -p "$CACHE_ROOT"
	exec 9>"$CACHE_ROOT/.lock-$name"
	if ! flock -n 9; then
		log "another build of $name is running; waiting for it (at most ${KERNEL_BUILD_LOCK_WAIT_S} s)"
		flock -w "$KERNEL_BUILD_LOCK_WAIT_S" 9 ||
			die "another build of $name held the lock for ${KERNEL_BUILD_LOCK_WAIT_S} s; is it stuck? (lock: $CACHE_ROOT/.lock-$name)"
	fi
}

# Publishes a filled temporary folder as cache entry $2 (rename is atomic;
# if another build got there first, keep theirs).
publish() {
	local tmp=$1 entry=$2
	if ! mv -T "$tmp" "$entry" 2>/dev/null; then
		rm -rf "$tmp"
		[[ -d $entry ]] || die "could not create cache entry $entry"
	fi
}

extract_source() {
	local dest=$1
	rm -rf "$dest"
	mkdir -p "$dest"
	log "extracting $KERNEL_TARBALL into ${dest#"$TOP"/}"
	tar -xf "$KERNEL_TARBALL" -C "$dest" --strip-components=1
}

apply_patches() {
	local tree=$1 p n=0
	while IFS= read -r p; do
		log "applying $p"
		# --forward and no fuzz: any reject or offset mismatch fails.
		patch -d "$tree" -p1 --forward --fuzz=0 --batch --no-backup-if-mismatch \
			-i "$PATCH_DIR/$p" >"$tree/.patch.log" 2>&1 || {
			cat "$tree/.patch.log" >&2
			die "patch $p does not apply cleanly to $KERNEL_PKG $KERNEL_PKG_VERSION"
		}
		n=$((n + 1))
	done < <(series_patches)
	log "applied $n patch(es)"
}

# Every CONFIG_X=value line and every '# CONFIG_X is not set' line of the
# fragments must hold in the final .config. Prints the ones that don't.
# shellcheck disable=SC2094 # the fragments and the .config are only read
verify_config() {
	local config=$1 frag line name value bad=()
	for frag in "${FRAGS[@]}"; do
		while IFS= read -r line; do
			if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
				name=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
				if [[ $value == n ]]; then
					grep -q "^$name=" "$config" && bad+=("$line ($(basename "$frag")): got $(grep "^$name=" "$config")")
				elif ! grep -qxF "$line" "$config"; then
					bad+=("$line ($(basename "$frag")): got $(grep -m1 "^$name=\|^# $name is not set" "$config" || echo 'not present (unknown symbol or unmet dependency)')")
				fi
			elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
				name=${BASH_REMATCH[1]}
				grep -q "^$name=" "$config" && bad+=("$line ($(basename "$frag")): got $(grep "^$name=" "$config")")
			fi
		done <"$frag"
	done
	if [[ ${#bad[@]} -gt 0 ]]; then
		printf 'kernel-build: config option not as requested: %s\n' "${bad[@]}" >&2
		return 1
	fi
}

build_kernel() {
	local key entry tmp tree start
	key=$(cache_key)
	entry=$CACHE_ROOT/$key
	[[ -f $entry/bzImage && -f $entry/config ]] || lock_entry "$key"
	if [[ -f $entry/bzImage && -f $entry/config ]]; then
		install_file "$entry/bzImage" "$OUT"
		install_file "$entry/config" "$OUT.config"
		echo "kernel-build: cache hit $key ($(stat -c %s "$OUT") bytes)"
		echo "$OUT"
		return
	fi
	echo "kernel-build: cache miss $key, building (several minutes)"
	start=$SECONDS
	# Trees of earlier failed or interrupted builds of this key (a running
	# one would hold the lock): kept for debugging until now.
	rm -rf "$WORK_ROOT/linux-$key".*
	tree=$WORK_ROOT/linux-$key.$$
	extract_source "$tree"
	apply_patches "$tree"
	log "source extracted and patched in $((SECONDS - start)) s"

	# ccache keeps compiled objects between builds of different keys: a
	# change to one driver recompiles that driver, not the whole kernel.
	# The cache key above still decides what is rebuilt; ccache only makes
	# the rebuild cheaper and never changes its output. BASEDIR and
	# NOHASHDIR make objects of trees in different folders shareable.
	local cc=gcc
	if command -v ccache >/dev/null; then
		cc="ccache gcc"
		export CCACHE_DIR=${CCACHE_DIR:-$CACHE_ROOT/../ccache}
		export CCACHE_BASEDIR=$tree CCACHE_NOHASHDIR=1
		export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
	fi
	local mk=(make -C "$tree" ARCH=x86_64 CC="$cc" -s)
	"${mk[@]}" tinyconfig >/dev/null
	(cd "$tree" && scripts/kconfig/merge_config.sh -m .config "${FRAGS[@]}") >"$tree/.merge.log" 2>&1 || {
		cat "$tree/.merge.log" >&2
		die "merge_config.sh failed"
	}
	"${mk[@]}" olddefconfig
	verify_config "$tree/.config" || die "the final .config does not satisfy the fragments (typo or unmet dependency)"

	log "configured at $((SECONDS - start)) s; building bzImage (nice -n 10 make -j$JOBS)"
	nice -n 10 "${mk[@]}" -j"$JOBS" bzImage ||
		die "kernel build failed in ${tree#"$TOP"/}"
	log "bzImage compiled at $((SECONDS - start)) s"

	mkdir -p "$CACHE_ROOT"
	tmp=$(mktemp -d "$CACHE_ROOT/.tmp.$key.XXXXXX")
	CLEANUP=$tmp
	chmod 755 "$tmp"
	cp "$tree/arch/x86/boot/bzImage" "$tmp/bzImage"
	cp "$tree/.config" "$tmp/config"
	{
		echo "source=$KERNEL_PKG $KERNEL_PKG_VERSION"
		echo "script=$SCRIPT_VERSION"
		echo "patches=$(series_patches | tr '\n' ' ')"
		echo "fragments=${FRAGS[*]##*/}"
		echo "built=$(date -u +%FT%TZ) seconds=$((SECONDS - start))"
	} >"$tmp/inputs"
	publish "$tmp" "$entry"
	# The tree is 1.7 GB and never reused (the next build starts fresh).
	rm -rf "$tree"
	install_file "$entry/bzImage" "$OUT"
	install_file "$entry/config" "$OUT.config"
	echo "kernel-build: built $key in $((SECONDS - start)) s ($(stat -c %s "$OUT") bytes), cached in $entry"
	echo "$OUT"
}

install_headers() {
	local dir=$1 entry tmp tree
	entry=$CACHE_ROOT/headers-$(echo "$KERNEL_PKG $KERNEL_PKG_VERSION script $SCRIPT_VERSION" | sha256sum | cut -c1-16)
	[[ -f $entry/include/linux/vm_sockets.h ]] || lock_entry "${entry##*/}"
	if [[ -f $entry/include/linux/vm_sockets.h ]]; then
		echo "kernel-build: headers cache hit"
	else
		echo "kernel-build: headers cache miss, installing from $KERNEL_TARBALL"
		tree=$WORK_ROOT/headers-src.$$
		extract_source "$tree"
		mkdir -p "$CACHE_ROOT"
		tmp=$(mktemp -d "$CACHE_ROOT/.tmp.headers.XXXXXX")
		CLEANUP="$tmp $tree"
		chmod 755 "$tmp"
		make -C "$tree" ARCH=x86_64 -s headers_install INSTALL_HDR_PATH="$tmp" ||
			die "headers_install failed"
		publish "$tmp" "$entry"
		rm -rf "$tree"
	fi
	# Replace DIR/include as a whole so no stale header survives.
	mkdir -p "$dir"
	rm -rf "$dir/include.tmp.$$"
	cp -a "$entry/include" "$dir/include.tmp.$$"
	rm -rf "$dir/include"
	mv "$dir/include.tmp.$$" "$dir/include"
	echo "$dir/include"
}

main() {
	# Temporary folders removed however the script ends.
	CLEANUP=
	trap '[[ -n $CLEANUP ]] && rm -rf $CLEANUP' EXIT

	FRAGS=()
	OUT=
	HEADERS=
	PRINT_KEY=0
	SOURCE_TARBALL='' SOURCE_VERSION=''
	VERIFY=
	while [[ $# -gt 0 ]]; do
		case $1 in
		--config) [[ $# -ge 2 ]] || die "--config needs a file"; FRAGS+=("$(realpath "$2")"); shift 2 ;;
		--out) [[ $# -ge 2 ]] || die "--out needs a file"; OUT=$(realpath -m "$2"); shift 2 ;;
		--headers) [[ $# -ge 2 ]] || die "--headers needs a folder"; HEADERS=$(realpath -m "$2"); shift 2 ;;
		--source-tarball) [[ $# -ge 2 ]] || die "--source-tarball needs a file"; SOURCE_TARBALL=$(realpath "$2"); shift 2 ;;
		--source-version) [[ $# -ge 2 ]] || die "--source-version needs a version"; SOURCE_VERSION=$2; shift 2 ;;
		--line) [[ $# -ge 2 ]] || die "--line needs a kernel line"; shift 2 ;;
		--print-key) PRINT_KEY=1; shift ;;
		--verify-config) [[ $# -ge 2 ]] || die "--verify-config needs a .config"; VERIFY=$2; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; die "unknown argument: $1" ;;
		esac
	done

	[[ -n $SOURCE_TARBALL && -n $SOURCE_VERSION || -z $SOURCE_TARBALL && -z $SOURCE_VERSION ]] ||
		die "--source-tarball and --source-version go together"
	[[ -z $SOURCE_VERSION ]] || KERNEL_PKG_VERSION=$SOURCE_VERSION
	if [[ ${#FRAGS[@]} -eq 0 ]]; then
		mapfile -t FRAGS < <(compgen -G "$TOP/kernel-patches/config/*.config" | LC_ALL=C sort
			compgen -G "$TOP/kernel-patches/config/$KERNEL_LINE/*.config" | LC_ALL=C sort)
		[[ ${#FRAGS[@]} -gt 0 ]] || die "no config fragments in kernel-patches/config/"
	fi
	for f in "${FRAGS[@]}"; do
		[[ -r $f ]] || die "config fragment $f is not readable"
	done

	while IFS= read -r p; do
		[[ -f $PATCH_DIR/$p ]] || die "kernel-patches/series names $p, which does not exist"
	done < <(series_patches)

	if [[ $PRINT_KEY -eq 1 ]]; then
		cache_key
		exit 0
	fi
	if [[ -n $VERIFY ]]; then
		[[ -r $VERIFY ]] || die "$VERIFY is not readable"
		verify_config "$VERIFY" || die "$VERIFY does not satisfy the fragments"
		echo "kernel-build: $VERIFY satisfies ${FRAGS[*]##*/}"
		exit 0
	fi

	check_source
	if [[ -n $HEADERS ]]; then
		install_headers "$HEADERS"
		[[ -z $OUT ]] && exit 0
	fi
	OUT=${OUT:-$TOP/build/guest/bzImage}
	build_kernel
}

# On one line, so bash has read the whole script before running it (an
# edit to this file during a long build cannot change what runs next).
main "$@"; exit $?
