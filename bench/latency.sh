#!/usr/bin/env bash
# Per-command latency over SSH on loopback (docs/ssh.md): one `ssh` process per command over a
# multiplexed master, against galley's agent (commands, and the probes the agent answers itself),
# with a local fork+exec as the floor. Needs root, openssh-server/client, python3.
#   N=300  GALLEY=path/to/galley (default: cargo build --release)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
N=${N:-300}
[ "$(id -u)" = 0 ] || { echo "latency.sh: run as root" >&2; exit 1; }
if [ -z "${GALLEY:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  GALLEY=$root/target/release/galley
fi
. "$here/lib.sh"

ms() { python3 -c "import sys; print(f'{(float(sys.argv[2]) - float(sys.argv[1])) * 1000 / $N:.2f} ms')" "$@"; }
now() { date +%s.%N; }

t0=$(now); for _ in $(seq "$N"); do /bin/true; done; t1=$(now)
echo "local fork+exec of /bin/true (bash loop):      $(ms "$t0" "$t1")"

mux=(-F "$state/ssh_config" -o ControlPath="$state/mux" -o ControlMaster=auto -o ControlPersist=30)
ssh "${mux[@]}" n1 true
t0=$(now); for _ in $(seq "$N"); do ssh "${mux[@]}" n1 true; done; t1=$(now)
echo "ssh process per command, multiplexed master:   $(ms "$t0" "$t1")"
ssh "${mux[@]}" -O exit n1 2>/dev/null || true

t0=$(now); for _ in $(seq 20); do ssh -F "$state/ssh_config" -o ControlPath=none n1 true; done; t1=$(now)
echo "new ssh connection per command (no master):    $(N=20 ms "$t0" "$t1" | sed "s/ ms//") ms (x20 only)"

cat > "$state/latency.rhai" <<RHAI
let n = $N;
let t = timestamp();
run(["true"]);
print(\`connect \${t.elapsed}\`);
let t = timestamp();
for i in 0..n { run(["true"]); }
print(\`run \${t.elapsed * 1000.0 / n}\`);
let t = timestamp();
for i in 0..n { file_exists("/etc/hostname"); }
print(\`stat \${t.elapsed * 1000.0 / n}\`);
let t = timestamp();
for i in 0..n { write_file("$state/probe.txt", "same content\n"); }
print(\`write_ok \${t.elapsed * 1000.0 / n}\`);
RHAI
printf '[hosts.n1]\nvars = { ssh_config_file = "%s" }\n' "$state/ssh_config" > "$state/inv.toml"
"$GALLEY" run "$state/latency.rhai" -i "$state/inv.toml" 2>&1 | python3 -c '
import sys
for line in sys.stdin:
    parts = line.split()
    if len(parts) == 4 and parts[0] == "info" and parts[1] == "-":
        what, value = parts[2], float(parts[3])
        label = {"connect": "galley: connect + first command (s)", "run": "galley agent: run([\"true\"])",
                 "stat": "galley agent: stat probe (file_exists)", "write_ok": "galley: write_file, unchanged (stat+read)"}[what]
        unit = "" if what == "connect" else " ms"
        print((label + ":").ljust(47) + "%.2f" % value + unit)
'
