#!/usr/bin/env bash
# CPU of an idempotent re-run on N SSH hosts, split by side (docs/ssh.md): the local side is the
# tool and its ssh clients (rusage of the process tree), the remote side the sshd's sessions
# (the sshd's reaped children's CPU, from /proc). For the bare floor and each galley binary given.
#   bench/cpu_split.sh N GALLEY [GALLEY...]     three runs each, after two warm-ups
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "cpu_split.sh: run as root" >&2; exit 1; }
[ $# -ge 2 ] || { echo "usage: cpu_split.sh N GALLEY [GALLEY...]" >&2; exit 2; }
N=$1; shift
HOSTS=$N
. "$here/lib.sh"
: > "$state/inv.toml"
for i in $(seq "$N"); do printf '[hosts.n%s]\nvars = { dir = "%s", ssh_config_file = "%s" }\n' "$i" "$state/data/n$i" "$state/ssh_config" >> "$state/inv.toml"; done
printf '#!/usr/bin/env bash\n' > "$state/bare.sh"
for i in $(seq "$N"); do printf 'ssh -F %s -o ControlPath=none n%s bash -s -- %s < %s &\n' "$state/ssh_config" "$i" "$state/data/bare/n$i" "$here/workload/bare.sh" >> "$state/bare.sh"; done
echo wait >> "$state/bare.sh"
remote() { awk '{print $16+$17}' "/proc/$sshd_pid/stat"; }  # clock ticks
hz=$(getconf CLK_TCK)
measure() { # label cmd...
  local label=$1; shift
  "$@" >/dev/null 2>&1; "$@" >/dev/null 2>&1
  for _ in 1 2 3; do
    local c0 c1 w0 w1 u s
    c0=$(remote); w0=$(date +%s%N)
    /usr/bin/time -f "%U %S" -o "$state/t" "$@" >/dev/null 2>&1
    w1=$(date +%s%N); c1=$(remote)
    read -r u s < "$state/t"
    python3 -c "import sys; print(f'{sys.argv[1]:16s} wall {($w1-$w0)/1e9:5.2f} s   local CPU {$u+$s:5.2f} s   remote CPU {($c1-$c0)/$hz:5.2f} s')" "$label"
  done
}
measure bare bash "$state/bare.sh"
for g in "$@"; do measure "$(basename "$g")" "$g" run "$here/workload/converge.rhai" -i "$state/inv.toml"; done
