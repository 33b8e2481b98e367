#!/usr/bin/env bash
# Benchmark of upcall-vsockd with a real guest (QEMU TCG, pc): throughput in
# both directions and small-message round-trip latency, printed as a table.
# Usage: tests/bench/vsock-bench.sh [MiB]   (default 64)
# Environment: VSOCK_BENCH_KERNEL / VSOCK_BENCH_INITRD override the images.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
mib=${1:-64}
bytes=$((mib << 20))
client=(python3 "$top/tests/e2e/vsock_client.py" --timeout 600)
dir=$(mktemp -d /tmp/vsock-bench.XXXXXX)
kernel=${VSOCK_BENCH_KERNEL:-$top/build/guest/bzImage}
initrd=${VSOCK_BENCH_INITRD:-$top/build/guest/initramfs.cpio.gz}

cleanup() {
	"$top/tools/vm" stop --dir "$dir/vm" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

"$top/tools/vm" start --dir "$dir/vm" --machine pc --kernel "$kernel" \
	--initrd "$initrd" --append "agent.exec=1" --timeout 120 >/dev/null
uds=$dir/vm/vsock.sock
gexec() {
	local reply
	reply=$("${client[@]}" request "$uds" 1219 "exec $1")
	[[ $reply == '{"status":0,'* ]] || { echo "guest exec '$1': $reply" >&2; exit 1; }
	printf '%s\n' "$reply"
}
gexec "vsock-echo -d server 5000" >/dev/null
gexec "vsock-echo -d sink 5001" >/dev/null

h2g=$("${client[@]}" bench-send "$uds" 5001 "$bytes")

"${client[@]}" bench-recv "$uds"_7100 "$bytes" >"$dir/recv.out" 2>&1 &
recv_pid=$!
for _ in $(seq 100); do
	grep -q listening "$dir/recv.out" 2>/dev/null && break
	sleep 0.1
done
gexec "vsock-echo send 2 7100 $bytes" >/dev/null
wait "$recv_pid" || { cat "$dir/recv.out" >&2; exit 1; }
g2h=$(tail -n 1 "$dir/recv.out")

read -r p50_64 p99_64 < <("${client[@]}" bench-rtt "$uds" 5000 64 2000)
read -r p50_4k p99_4k < <("${client[@]}" bench-rtt "$uds" 5000 4096 1000)

printf '\nupcall-vsockd benchmark (QEMU %s TCG, pc guest, %d MiB transfers)\n' \
	"$(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')" "$mib"
printf '%-34s %12s\n' "measurement" "result"
printf '%-34s %12s\n' "----------------------------------" "------------"
printf '%-34s %9s MB/s\n' "throughput host -> guest" "$h2g"
printf '%-34s %9s MB/s\n' "throughput guest -> host" "$g2h"
printf '%-34s %9s us\n' "round trip 64 B, p50" "$p50_64"
printf '%-34s %9s us\n' "round trip 64 B, p99" "$p99_64"
printf '%-34s %9s us\n' "round trip 4 KiB, p50" "$p50_4k"
printf '%-34s %9s us\n' "round trip 4 KiB, p99" "$p99_4k"
