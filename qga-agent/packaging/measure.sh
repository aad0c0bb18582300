#!/bin/sh
# Sizes and memory of the shipped agent beside qemu-ga, measured in one run:
#   sh qga-agent/packaging/measure.sh [target/dist/qga-agent] [qemu-ga]
# Size: the file's bytes (qemu-ga: its Installed-Size too, and the shared libraries it
# loads). RSS: VmRSS of each agent idle on a unix socket after the handshake, then VmHWM
# (peak) after the same workload: guest-info, guest-get-osinfo, 200 guest-ping, and a 4 MiB
# file read in one guest-file-read (a 5.6 MB reply).
set -eu
ours=${1:-target/dist/qga-agent}
ref=${2:-$(command -v qemu-ga || echo /usr/sbin/qemu-ga)}
dir=$(mktemp -d)
trap 'kill $pids 2>/dev/null || true; rm -rf "$dir"' EXIT
pids=""
head -c 4194304 /dev/urandom > "$dir/data"

kib() { echo $(( ($1 + 1023) / 1024 )); }
echo "binary sizes:"
echo "  qga-agent (static, stripped): $(kib $(stat -c %s "$ours")) KiB  $ours"
echo "  qemu-ga: $(kib $(stat -c %s "$ref")) KiB  $ref"
if size=$(dpkg-query -W -f '${Installed-Size}' qemu-guest-agent 2>/dev/null); then
    echo "  qemu-guest-agent Installed-Size: $size KiB"
fi
libs=0
for lib in $(ldd "$ref" | awk '/=>/ { print $3 }'); do
    libs=$((libs + $(stat -L -c %s "$lib")))
done
echo "  shared libraries qemu-ga loads: $(kib $libs) KiB"

measure() { # name binary
    mkdir -p "$dir/$1"
    "$2" -m unix-listen -p "$dir/$1/sock" -t "$dir/$1" &
    pid=$!
    pids="$pids $pid"
    python3 - "$dir/$1/sock" "$dir/data" "$pid" "$1" <<'EOF'
import json, os, socket, sys, time
path, data, pid, name = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); break
    except OSError:
        time.sleep(0.02)
f = s.makefile("rwb")
def call(cmd, args=None):
    msg = {"execute": cmd}
    if args is not None:
        msg["arguments"] = args
    f.write(json.dumps(msg).encode() + b"\n"); f.flush()
    return json.loads(f.readline())
def status(key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1])
call("guest-sync", {"id": 1})
idle = status("VmRSS:")
call("guest-info"); call("guest-get-osinfo")
for _ in range(200):
    call("guest-ping")
h = call("guest-file-open", {"path": data})["return"]
r = call("guest-file-read", {"handle": h, "count": 4194304})["return"]
assert r["count"] == 4194304, r["count"]
call("guest-file-close", {"handle": h})
print(f"  {name}: idle VmRSS {idle} KiB, peak VmHWM {status('VmHWM:')} KiB")
EOF
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
echo "memory (same workload, same run):"
measure qga-agent "$ours"
measure qemu-ga "$ref"
