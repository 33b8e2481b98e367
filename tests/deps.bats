#!/usr/bin/env bats
# tools/deps.sh and the rule that nothing is probed before it ran, without
# installing anything: deps.sh runs from a copy with its own package lists,
# against fake dpkg-query, apt-get and pkg-config that log their calls.
# Runs in seconds. (The fresh-machine suite runs it for real.)

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

setup() {
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/tools" "$T/bin"
	cp "$TOP/tools/deps.sh" "$T/tools/"
	printf 'pkg-config   # why\nlibfoo-dev\n' >"$T/tools/debian-packages.txt"
	printf '# package version\nlinux-source-6.12 6.12.117-1~deb12u1\n' >"$T/tools/kernel-sources.txt"
	# Installed state: "name version status" lines, edited per test.
	printf 'pkg-config\t1.8.1-1\tii \nlibfoo-dev\t1.0\tii \nlinux-source-6.12\t6.12.117-1~deb12u1\tii \n' >"$T/state"
	cat >"$T/bin/dpkg-query" <<-EOF
		#!/bin/sh
		cat "$T/state"
	EOF
	cat >"$T/bin/apt-get" <<-EOF
		#!/bin/sh
		echo "apt-get \$*" >>"$T/apt.log"
	EOF
	cat >"$T/bin/pkg-config" <<-EOF
		#!/bin/sh
		case "\$*" in
		"--cflags json-c") echo "-I/fake/json-c " ;;
		"--libs json-c") echo "-ljson-c" ;;
		*) exit 1 ;;
		esac
	EOF
	chmod +x "$T/bin/"*
	export PATH=$T/bin:$PATH
	[[ $(id -u) -eq 0 ]] || skip "deps.sh calls apt-get through sudo when not root"
}

@test "everything installed at its pin: no apt-get, exit 0" {
	run "$T/tools/deps.sh"
	[[ $status -eq 0 ]]
	[[ ! -e $T/apt.log ]]
}

@test "a missing package is installed by name" {
	sed -i '/^libfoo-dev/d' "$T/state"
	run "$T/tools/deps.sh"
	# The fake apt-get installs nothing, so deps.sh must notice and fail.
	[[ $status -ne 0 ]]
	[[ $output == *"still missing after apt-get install: libfoo-dev"* ]]
	grep -q '^apt-get update' "$T/apt.log"
	grep -qx 'apt-get install -y -qq --no-install-recommends --allow-downgrades libfoo-dev' "$T/apt.log"
}

@test "the kernel source at another version (newer or older) is installed at exactly its pin" {
	for v in 6.12.999-1~deb12u1 6.12.115-2~deb12u1; do
		rm -f "$T/apt.log"
		sed -i "s/^linux-source-6.12\t[^\t]*/linux-source-6.12\t$v/" "$T/state"
		run "$T/tools/deps.sh"
		[[ $output == *"installing missing Debian packages: linux-source-6.12=6.12.117-1~deb12u1"* ]]
		grep -q 'install .*--allow-downgrades linux-source-6.12=6.12.117-1~deb12u1$' "$T/apt.log"
	done
}

@test "a removed package (dpkg state rc) counts as missing" {
	sed -i 's/^libfoo-dev\t1.0\tii /libfoo-dev\t1.0\trc /' "$T/state"
	run "$T/tools/deps.sh"
	grep -q 'install .* libfoo-dev$' "$T/apt.log"
}

@test "--make-vars writes the pkg-config answers and the tarball, rewriting only on change" {
	local f=$T/build/deps.mk
	run "$T/tools/deps.sh" --make-vars "$f"
	[[ $status -eq 0 ]]
	grep -qx 'JSONC_CFLAGS := -I/fake/json-c' "$f"
	grep -qx 'JSONC_LIBS := -ljson-c' "$f"
	grep -qx 'KERNEL_TARBALL := /usr/src/linux-source-6.12.tar.xz' "$f"
	grep -qx 'KERNEL_TARBALL_6.12 := /usr/src/linux-source-6.12.tar.xz' "$f"
	# Unchanged values: the file keeps its time, so make does not restart.
	touch -d '2001-01-01' "$f"
	run "$T/tools/deps.sh" --make-vars "$f"
	[[ $(stat -c %Y "$f") -eq $(date -d 2001-01-01 +%s) ]]
	sed -i 's|/fake/json-c|/other/json-c|' "$T/bin/pkg-config"
	run "$T/tools/deps.sh" --make-vars "$f"
	grep -qx 'JSONC_CFLAGS := -I/other/json-c' "$f"
}

@test "--make-vars rewrites the file after an installation, even with the same values (make re-reads itself)" {
	local f=$T/deps.mk
	"$T/tools/deps.sh" --make-vars "$f"
	touch -d '2001-01-01' "$f"
	# An apt-get that really "installs": libfoo-dev appears in dpkg's state.
	sed -i '/^libfoo-dev/d' "$T/state"
	cat >"$T/bin/apt-get" <<-EOF
		#!/bin/sh
		echo "apt-get \$*" >>"$T/apt.log"
		case "\$1" in install) printf 'libfoo-dev\t1.0\tii \n' >>"$T/state" ;; esac
	EOF
	run "$T/tools/deps.sh" --make-vars "$f"
	[[ $status -eq 0 ]]
	grep -q 'install .* libfoo-dev$' "$T/apt.log"
	[[ $(stat -c %Y "$f") -gt $(date -d 2001-01-02 +%s) ]]
}

@test "--make-vars fails, and writes nothing, when pkg-config cannot answer" {
	printf '#!/bin/sh\nexit 1\n' >"$T/bin/pkg-config"
	run "$T/tools/deps.sh" --make-vars "$T/deps.mk"
	[[ $status -ne 0 ]]
	[[ $output == *"pkg-config --cflags json-c failed"* ]]
	[[ ! -e $T/deps.mk ]]
}

@test "a malformed pin line is refused" {
	printf 'linux-source-6.12\n' >"$T/tools/kernel-sources.txt"
	run "$T/tools/deps.sh"
	[[ $status -ne 0 ]]
	[[ $output == *"want 'package version'"* ]]
}

@test "no make fragment probes the system at parse time" {
	# $(shell ...) anywhere, or a parse-time command -v: the values must
	# come from build/deps.mk (tools/deps.sh --make-vars) or a recipe.
	run grep -nE '\$\(shell |^[^\t#].*command -v' "$TOP/Makefile" "$TOP"/*/*.mk
	echo "$output"
	[[ $status -eq 1 ]]
}
