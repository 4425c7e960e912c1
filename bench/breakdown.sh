#!/usr/bin/env bash
# Where one SSH host's time goes in the converge workload (docs/ssh.md): galley's own start, the
# `ssh -G` it asks once per host, the connection (handshake, master, agent start), each kind of
# probe the workload sends (medians of N rounds), the hang-up; then the remote processes one
# idempotent re-run starts, counted on the sshd's side (strace -f of each session), for galley
# and for the bare floor. Needs root, openssh-server/client, strace, python3.
#   N=200  GALLEY=path/to/galley (default: cargo build --release)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
N=${N:-200}
[ "$(id -u)" = 0 ] || { echo "breakdown.sh: run as root" >&2; exit 1; }
command -v strace >/dev/null || { echo "breakdown.sh: strace is missing: apt-get install strace" >&2; exit 1; }
if [ -z "${GALLEY:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  GALLEY=$root/target/release/galley
fi

if [ -n "${COUNT_ONLY:-}" ]; then
  # Second pass (below): an sshd whose sessions run under strace; processes of one re-run.
  SSHD_WRAP=1 HOSTS=1
  . "$here/lib.sh"
  printf '[hosts.n1]\nvars = { dir = "%s", ssh_config_file = "%s" }\n' "$state/data/n1" "$state/ssh_config" > "$state/inv.toml"
  count() { # label
    sleep 0.3
    local e f
    e=$(cat "$state"/exec/* | grep -c 'execve(' || true)
    f=$(cat "$state"/exec/* | grep -cE '(clone|clone3|fork|vfork)\(' || true)
    printf '%-47s%s execs, %s forks: %s\n' "$1:" "$e" "$f" \
      "$(cat "$state"/exec/* | grep 'execve(' | sed -E 's/.*execve\("([^"]*)".*/\1/; s|.*/||' | sort | uniq -c | sort -rn | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')"
    rm -f "$state"/exec/*
  }
  "$GALLEY" run "$here/workload/converge.rhai" -i "$state/inv.toml" > "$state/out.log" 2>&1 || { cat "$state/out.log"; exit 1; }
  rm -f "$state"/exec/*
  "$GALLEY" run "$here/workload/converge.rhai" -i "$state/inv.toml" > "$state/out.log" 2>&1 || { cat "$state/out.log"; exit 1; }
  count "remote processes, galley re-run (91 probes)"
  ssh -F "$state/ssh_config" -o ControlPath=none n1 bash -s -- "$state/data/bare" < "$here/workload/bare.sh"
  rm -f "$state"/exec/*
  ssh -F "$state/ssh_config" -o ControlPath=none n1 bash -s -- "$state/data/bare" < "$here/workload/bare.sh"
  count "remote processes, bare floor re-run"
  exit 0
fi

HOSTS=1
. "$here/lib.sh"
ms() { python3 -c "import sys; print(f'{(float(sys.argv[2]) - float(sys.argv[1])) * 1000 / float(sys.argv[3]):.2f} ms')" "$@"; }
now() { date +%s.%N; }
printf '[hosts.n1]\nvars = { dir = "%s", ssh_config_file = "%s" }\n' "$state/data/n1" "$state/ssh_config" > "$state/inv.toml"
echo 'print("x");' > "$state/nothing.rhai"

t0=$(now); for _ in $(seq 20); do "$GALLEY" run "$state/nothing.rhai" >/dev/null 2>&1; done; t1=$(now)
echo "galley start and exit, no host:                $(ms "$t0" "$t1" 20)"
t0=$(now); for _ in $(seq 20); do ssh -G -F "$state/ssh_config" n1 >/dev/null; done; t1=$(now)
echo "ssh -G (galley asks once per host):            $(ms "$t0" "$t1" 20)"
t0=$(now); for _ in $(seq 20); do ssh -F "$state/ssh_config" -o ControlPath=none n1 true; done; t1=$(now)
echo "ssh n1 true (handshake, session, hang-up):      $(ms "$t0" "$t1" 20)"

# The workload's probes on a converged host: ensure_dir (stat of a folder), write_file (stat with
# the content), run with creates (stat of an existing file); then the other usual ones.
cat > "$state/probes.rhai" <<RHAI
let n = $N;
let b = "$state/data/n1";
let t = timestamp();
ensure_dir(b);
print(\`connect \${t.elapsed}\`);
for i in 0..20 { ensure_dir(\`\${b}/d\${i}\`); write_file(\`\${b}/d\${i}/f.txt\`, "file\n"); }
run(["touch", \`\${b}/m\`]);
let t = timestamp();
for i in 0..n { ensure_dir(\`\${b}/d\${i % 20}\`); }
print(\`ensure_dir \${t.elapsed * 1000.0 / n}\`);
let t = timestamp();
for i in 0..n { write_file(\`\${b}/d\${i % 20}/f.txt\`, "file\n"); }
print(\`write_file \${t.elapsed * 1000.0 / n}\`);
let t = timestamp();
for i in 0..n { run(["touch", \`\${b}/m\`], #{ creates: \`\${b}/m\` }); }
print(\`creates \${t.elapsed * 1000.0 / n}\`);
let t = timestamp();
for i in 0..n { file_exists(\`\${b}/missing\`); }
print(\`missing \${t.elapsed * 1000.0 / n}\`);
let t = timestamp();
for i in 0..n { read_file(\`\${b}/d0/f.txt\`); }
print(\`read \${t.elapsed * 1000.0 / n}\`);
let t = timestamp();
for i in 0..n { run(["true"]); }
print(\`run \${t.elapsed * 1000.0 / n}\`);
RHAI
"$GALLEY" run "$state/probes.rhai" -i "$state/inv.toml" 2>&1 | python3 -c '
import sys
labels = {"connect": ("galley: ssh -G, connect, agent start, 1st probe", " s"),
          "ensure_dir": ("probe: ensure_dir of a folder (stat)", " ms"),
          "write_file": ("probe: write_file, unchanged (stat + content)", " ms"),
          "creates": ("probe: run with creates, exists (stat)", " ms"),
          "missing": ("probe: file_exists, missing", " ms"),
          "read": ("probe: read_file (not just stat-ed)", " ms"),
          "run": ("command: run([\"true\"])", " ms")}
for line in sys.stdin:
    parts = line.split()
    if len(parts) == 4 and parts[0] == "info" and parts[1] == "-" and parts[2] in labels:
        label, unit = labels[parts[2]]
        print((label + ":").ljust(47) + "%.3f" % float(parts[3]) + unit)
'
# One probe, whole process: what is left after start, connect and probe is the hang-up.
cat > "$state/one.rhai" <<RHAI
let t = timestamp();
file_exists("/");
print(\`connect \${t.elapsed}\`);
RHAI
tot=0 con=0
for _ in $(seq 10); do
  t0=$(now)
  c=$("$GALLEY" run "$state/one.rhai" -i "$state/inv.toml" 2>&1 | awk '$3 == "connect" {print $4}')
  t1=$(now)
  tot=$(python3 -c "print($tot + $t1 - $t0)"); con=$(python3 -c "print($con + $c)")
done
python3 -c "print('galley run, 1 probe, whole process:'.ljust(47) + f'{$tot * 100:.1f} ms'); print('  of which connect + probe:'.ljust(47) + f'{$con * 100:.1f} ms')"

COUNT_ONLY=1 GALLEY=$GALLEY bash "$0"
