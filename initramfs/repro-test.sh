#!/usr/bin/env bash
# Usage: initramfs/repro-test.sh GEN_INIT_CPIO IMAGE AGENT BUSYBOX TESTS_DIR [EXTRA_BIN...]
#
# TAP checks that the initramfs is reproducible and well-formed:
# rebuilds it from copies of the same inputs under conditions that must not
# matter (other paths, other file times and modes, another umask, another
# order of GUEST_EXTRA_BINS) and compares bytes with the make-built IMAGE;
# checks that a changed input does change the image (so the comparison can
# fail); reads the archive back with GNU cpio to check owners, times, order,
# /init and /dev/console.
set -uo pipefail
export LC_ALL=C

gen=$1 image=$2 agent=$3 busybox=$4 tests=$5
shift 5
extras=("$@")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/initramfs-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

# copy_inputs DIR STAMP MODE: a private copy of every input, with the given
# mtime and permission bits (which the image must not depend on)
copy_inputs() {
	local d=$1 stamp=$2 mode=$3 f
	mkdir -p "$d/extra" "$d/tests"
	cp "$agent" "$d/agent"
	cp "$busybox" "$d/busybox"
	for f in "${extras[@]}"; do cp "$f" "$d/extra/"; done
	if [[ -d $tests ]]; then
		for f in "$tests"/*.sh; do [[ -e $f ]] && cp "$f" "$d/tests/"; done
	fi
	find "$d" -type f -exec chmod "$mode" {} + -exec touch -d "$stamp" {} +
	chmod 755 "$d/busybox"	# it is run to list the applets
}

extra_list() {	# extra binaries of a copy, in the order given
	local d=$1 f
	for f in "${extras[@]}"; do printf '%s\n' "$d/extra/${f##*/}"; done
}

copy_inputs "$work/a" "2001-02-03 04:05:06" 755
copy_inputs "$work/b" "2030-06-07 08:09:10" 700
mapfile -t ea < <(extra_list "$work/a")
mapfile -t eb < <(extra_list "$work/b" | sort -r)

(umask 022 && "$here/build.sh" "$gen" "$work/a.cpio.gz" "$work/a/agent" \
	"$work/a/busybox" "$work/a/tests" "${ea[@]}") 2>&1 | sed 's/^/# /'
(umask 077 && "$here/build.sh" "$gen" "$work/b.cpio.gz" "$work/b/agent" \
	"$work/b/busybox" "$work/b/tests" "${eb[@]}") 2>&1 | sed 's/^/# /'

check "two builds from copies of the inputs exist" \
	test -s "$work/a.cpio.gz" -a -s "$work/b.cpio.gz"
check "the two builds are byte-identical" cmp "$work/a.cpio.gz" "$work/b.cpio.gz"
check "the make-built image is byte-identical to them" cmp "$image" "$work/a.cpio.gz"

# negative control: one changed byte in /init must change the image
cp "$work/a/agent" "$work/c-agent"
printf 'X' >> "$work/c-agent"
"$here/build.sh" "$gen" "$work/c.cpio.gz" "$work/c-agent" "$work/a/busybox" \
	"$work/a/tests" "${ea[@]}" 2>&1 | sed 's/^/# /'
check "a changed input changes the image (the comparison can fail)" \
	bash -c '[[ -s $1 ]] && ! cmp -s "$1" "$2"' _ "$work/c.cpio.gz" "$work/a.cpio.gz"

# SOURCE_DATE_EPOCH sets every mtime
SOURCE_DATE_EPOCH=1700000000 "$here/build.sh" "$gen" "$work/d.cpio.gz" \
	"$work/a/agent" "$work/a/busybox" "$work/a/tests" "${ea[@]}" 2>&1 | sed 's/^/# /'

gzip -dc "$image" > "$work/image.cpio"
listing=$(cpio -itv --quiet --numeric-uid-gid < "$work/image.cpio" 2>&1)
names=$(cpio -it --quiet < "$work/image.cpio" 2>&1)

check "GNU cpio reads the image" bash -c 'cpio -it --quiet < "$1" >/dev/null' _ "$work/image.cpio"
check "every entry is owned by 0:0" \
	bash -c '! awk "\$3 != 0 || \$4 != 0 { bad = 1 } END { exit !bad }" <<< "$1"' _ "$listing"
check "every mtime is the epoch (1970-01-01)" \
	bash -c '! grep -v " Jan  1  1970 " <<< "$1" | grep -q .' _ "$listing"
check "SOURCE_DATE_EPOCH=1700000000 gives 2023-11-14 mtimes" \
	bash -c 'l=$(gzip -dc "$1" | cpio -itv --quiet 2>&1); grep -q " Nov 14  2023 init$" <<< "$l" && ! grep -q " 1970 " <<< "$l"' _ "$work/d.cpio.gz"
check "entries are sorted by path" bash -c 'diff <(printf "%s\n" "$1") <(printf "%s\n" "$1" | sort)' _ "$names"
check "/init is the agent, mode 0755" \
	bash -c 'grep -Eq "^-rwxr-xr-x +1 0 +0 +$2 .* init$" <<< "$1"' _ "$listing" "$(stat -c %s "$agent")"
check "/dev/console is a character device 5,1" \
	bash -c 'grep -Eq "^crw------- .* 5, +1 .* dev/console$" <<< "$1"' _ "$listing"
check "/bin/sh is a busybox applet link" \
	bash -c 'grep -Eq "^l.* bin/sh -> /bin/busybox$" <<< "$1"' _ "$listing"
for d in proc sys dev tmp run; do
	check "/$d exists for the agent to mount on" \
		bash -c 'grep -Eq "^d.* $2$" <<< "$1"' _ "$listing" "$d"
done
for f in "${extras[@]}"; do
	check "GUEST_EXTRA_BINS: /usr/bin/${f##*/} is a regular file" \
		bash -c 'grep -Eq "^-rwxr-xr-x .* usr/bin/$2$" <<< "$1"' _ "$listing" "${f##*/}"
done
if compgen -G "$tests/*.sh" >/dev/null; then
	for f in "$tests"/*.sh; do
		check "test script /tests/${f##*/} is in the image" \
			bash -c 'grep -Eq " tests/$2$" <<< "$1"' _ "$listing" "${f##*/}"
	done
fi

check "/init holds the agent's bytes" \
	bash -c 'cd "$1" && cpio -i --quiet --to-stdout init < image.cpio | cmp -s - "$2"' _ "$work" "$agent"
check "the archive ends with the newc trailer" \
	bash -c 'tail -c 1024 "$1" | grep -aq "TRAILER!!!"' _ "$work/image.cpio"

# the list is checked before gen_init_cpio (which checks nothing) sees it
mkdir -p "$work/sp ace"
cp "$work/a/agent" "$work/sp ace/agent"
check "build.sh refuses a source path gen_init_cpio would split at a space" \
	bash -c '! "$1" "$2" "$3/e.cpio.gz" "$3/sp ace/agent" "$4" "$3/a/tests" 2>/dev/null && [[ ! -e $3/e.cpio.gz ]]' \
	_ "$here/build.sh" "$gen" "$work" "$work/a/busybox"
check "build.sh refuses an extra binary given twice" \
	bash -c '! "$1" "$2" "$3/f.cpio.gz" "$3/a/agent" "$4" "$3/a/tests" "$4" "$4" 2>/dev/null' \
	_ "$here/build.sh" "$gen" "$work" "$work/a/busybox"

echo "# image: $(stat -c %s "$image") bytes compressed, $(stat -c %s "$work/image.cpio") bytes uncompressed"
echo "1..$n"
[[ $failed -eq 0 ]]
