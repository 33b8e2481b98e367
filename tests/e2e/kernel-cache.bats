#!/usr/bin/env bats
# The kernel build cache of tools/kernel-build.sh, without building a
# kernel: the cache key follows every input, a cache hit copies the cached
# files and extracts nothing, and the source version pin and the config
# check fail loudly. Runs in seconds.

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
KB=$TOP/tools/kernel-build.sh

setup() {
	export XDG_CACHE_HOME=$BATS_TEST_TMPDIR/cache
	export KERNEL_PATCH_DIR=$BATS_TEST_TMPDIR/patches
	mkdir -p "$KERNEL_PATCH_DIR"
	cp "$TOP"/kernel-patches/config/base.config "$BATS_TEST_TMPDIR/base.config"
	printf 'CONFIG_PRINTK=y\n' >"$BATS_TEST_TMPDIR/extra.config"
	FRAGS=(--config "$BATS_TEST_TMPDIR/base.config" --config "$BATS_TEST_TMPDIR/extra.config")
}

key() {
	"$KB" --print-key "${FRAGS[@]}"
}

@test "the key is stable and changes with each fragment's content" {
	local k1 k2
	k1=$(key)
	[[ $k1 =~ ^[0-9a-f]{16}$ ]]
	[[ $(key) == "$k1" ]]
	echo 'CONFIG_TMPFS=y' >>"$BATS_TEST_TMPDIR/extra.config"
	k2=$(key)
	[[ $k2 != "$k1" ]]
	echo '# a comment' >>"$BATS_TEST_TMPDIR/base.config"
	[[ $(key) != "$k2" ]]
}

@test "the key changes with the series and with a named patch's content" {
	local k0 k1 k2
	k0=$(key)
	printf 'From: x\nSubject: [PATCH] a\n\n---\n' >"$KERNEL_PATCH_DIR/0001-a.patch"
	[[ $(key) == "$k0" ]] # not named by a series: not an input
	echo '0001-a.patch' >"$KERNEL_PATCH_DIR/series"
	k1=$(key)
	[[ $k1 != "$k0" ]]
	echo ' ' >>"$KERNEL_PATCH_DIR/0001-a.patch"
	k2=$(key)
	[[ $k2 != "$k1" ]]
}

@test "a series naming a missing patch is an error" {
	echo '0009-missing.patch' >"$KERNEL_PATCH_DIR/series"
	run "$KB" --print-key "${FRAGS[@]}"
	[[ $status -ne 0 ]]
	[[ $output == *"0009-missing.patch, which does not exist"* ]]
}

@test "a cache hit copies the cached files and extracts nothing" {
	local k out=$BATS_TEST_TMPDIR/out/bzImage
	k=$(key)
	mkdir -p "$XDG_CACHE_HOME/upcall/kernel/$k"
	echo "cached kernel $k" >"$XDG_CACHE_HOME/upcall/kernel/$k/bzImage"
	echo "cached config $k" >"$XDG_CACHE_HOME/upcall/kernel/$k/config"
	rm -rf "$TOP/build/kernel/linux-$k".*
	SECONDS=0
	run "$KB" "${FRAGS[@]}" --out "$out"
	[[ $status -eq 0 ]]
	[[ $output == *"cache hit $k"* ]]
	[[ ${lines[-1]} == "$out" ]]
	[[ $(cat "$out") == "cached kernel $k" ]]
	[[ $(cat "$out.config") == "cached config $k" ]]
	[[ -z $(compgen -G "$TOP/build/kernel/linux-$k*") ]]
	((SECONDS < 5))
}

@test "a different linux-source-6.12 version is refused with a clear message" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho 6.12.999-1\n' >"$BATS_TEST_TMPDIR/bin/dpkg-query"
	chmod +x "$BATS_TEST_TMPDIR/bin/dpkg-query"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run "$KB" "${FRAGS[@]}" --out "$BATS_TEST_TMPDIR/x"
	[[ $status -ne 0 ]]
	[[ $output == *"linux-source-6.12 6.12.999-1 is installed, but the build is pinned to 6.12.117-1~deb12u1"* ]]
	[[ ! -e $BATS_TEST_TMPDIR/x ]]
}

@test "the config check lists options the final .config does not have" {
	local cfg=$BATS_TEST_TMPDIR/dot.config
	printf 'CONFIG_PRINTK=y\nCONFIG_NR_CPUS=256\n# CONFIG_ACPI is not set\n' >"$cfg"
	printf 'CONFIG_PRINTK=y\nCONFIG_NR_CPUS=256\nCONFIG_ACPI=n\n' >"$BATS_TEST_TMPDIR/ok.config"
	run "$KB" --verify-config "$cfg" --config "$BATS_TEST_TMPDIR/ok.config"
	[[ $status -eq 0 ]]
	printf 'CONFIG_PRINTK=y\nCONFIG_VIRTIO_MMMIO=y\nCONFIG_NR_CPUS=64\n# CONFIG_PRINTK is not set\n' \
		>"$BATS_TEST_TMPDIR/bad.config"
	run "$KB" --verify-config "$cfg" --config "$BATS_TEST_TMPDIR/bad.config"
	[[ $status -ne 0 ]]
	[[ $output == *"CONFIG_VIRTIO_MMMIO=y (bad.config): got not present"* ]]
	[[ $output == *"CONFIG_NR_CPUS=64 (bad.config): got CONFIG_NR_CPUS=256"* ]]
	[[ $output == *"# CONFIG_PRINTK is not set (bad.config): got CONFIG_PRINTK=y"* ]]
	[[ $output != *"CONFIG_PRINTK=y (bad.config)"* ]]
}

@test "the built kernel's .config satisfies the project's fragments" {
	[[ -r $TOP/build/guest/bzImage.config ]] || skip "no build/guest/bzImage.config (run make)"
	run "$KB" --verify-config "$TOP/build/guest/bzImage.config"
	echo "$output"
	[[ $status -eq 0 ]]
}

@test "the pin comes from tools/kernel-sources.txt; --source-version (make kernel-latest) keys a build apart" {
	local pinned other
	pinned=$(key)
	[[ $("$KB" --help) == *"linux-source-6.12 $(awk '/^linux-source-6.12 /{print $2}' "$TOP/tools/kernel-sources.txt")"* ]]
	other=$("$KB" --print-key "${FRAGS[@]}" --source-tarball /dev/null --source-version 6.12.999-1)
	[[ $other =~ ^[0-9a-f]{16}$ && $other != "$pinned" ]]
	run "$KB" --print-key "${FRAGS[@]}" --source-version 6.12.999-1
	[[ $status -ne 0 ]]
	[[ $output == *"--source-tarball and --source-version go together"* ]]
}

@test "--line picks another pin of tools/kernel-sources.txt (6.1) and keys it apart; an unknown line is refused" {
	local k612 k61
	k612=$(key)
	[[ $("$KB" --line 6.12 --print-key "${FRAGS[@]}") == "$k612" ]]
	k61=$("$KB" --line 6.1 --print-key "${FRAGS[@]}")
	[[ $k61 =~ ^[0-9a-f]{16}$ && $k61 != "$k612" ]]
	[[ $(KERNEL_LINE=6.1 "$KB" --print-key "${FRAGS[@]}") == "$k61" ]]
	[[ $("$KB" --line 6.1 --help) == *"linux-source-6.1 $(awk '/^linux-source-6.1 /{print $2}' "$TOP/tools/kernel-sources.txt")"* ]]
	run "$KB" --line 5.4 --print-key "${FRAGS[@]}"
	[[ $status -ne 0 ]]
	[[ $output == *"no pin for kernel line '5.4'"* ]]
}
