#!/usr/bin/env bash
# Converge benchmark (docs/benchmarks.md): the same workload — 20 directories, 50 small files, a
# JSON config file, 20 guarded commands — applied by a bare bash script (the floor), galley,
# pyinfra and Ansible, to this machine and to N SSH hosts on loopback (one sshd started here,
# aliases n1..nN of it), first run and idempotent re-run, timed with hyperfine. Not a CI gate.
#
# Needs root, hyperfine, openssh-server/client, python3 with venv; pyinfra and ansible-core are
# installed from PyPI into bench/.venv on first use. Settings (environment):
#   TOOLS="bare galley pyinfra ansible"  TARGETS="local 1 8" (any N: N SSH hosts, e.g. "64")
#   RUNS=10  SLOW_RUNS=3  PHASES="first rerun" (or just "rerun")
#   GALLEY=path/to/galley (default: cargo build --release)
#   BASELINE=path/to/another/galley: also times that binary, as the tool `baseline` (add it to
#     TOOLS), so a change can be compared with what it replaces in the same run
#   KEEP=1: keep results already in bench/results (resume an interrupted run)
#   INTERLEAVE=1: time bare, galley and baseline in turns (run 1 of each, then run 2 of each, ...;
#     bench/interleave.py) instead of one tool after the other: on a shared machine, load from
#     other work then falls on all of them alike
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
TOOLS=${TOOLS:-"bare galley pyinfra ansible"}
TARGETS=${TARGETS:-"local 1 8"}
RUNS=${RUNS:-10}
SLOW_RUNS=${SLOW_RUNS:-3}
PHASES=${PHASES:-"first rerun"}
venv=$here/.venv

die() { echo "converge.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (sshd logs in as root on loopback)"
command -v hyperfine >/dev/null || die "hyperfine is missing: apt-get install hyperfine"
[ -x /usr/sbin/sshd ] || die "sshd is missing: apt-get install openssh-server"
command -v ssh-keygen >/dev/null || die "ssh-keygen is missing: apt-get install openssh-client"

if [ -z "${GALLEY:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  GALLEY=$root/target/release/galley
fi

if [[ " $TOOLS " == *" pyinfra "* || " $TOOLS " == *" ansible "* ]] && [ ! -x "$venv/bin/ansible-playbook" ]; then
  echo "installing pyinfra and ansible-core into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet pyinfra ansible-core
fi

counts=$(for t in $TARGETS; do [ "$t" = local ] || echo "$t"; done)
for n in $counts; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "a target is local or a number of hosts, not $n"; done
HOSTS=$(printf '%s\n' $counts 1 | sort -n | tail -1)
. "$here/lib.sh"

# --- inventories and the floor for N hosts ---------------------------------------------------
for n in $counts; do
  : > "$state/galley$n.toml"; : > "$state/baseline$n.toml"
  printf '[all:vars]\nansible_ssh_common_args=-F %s\nansible_python_interpreter=/usr/bin/python3\n[bench]\n' "$state/ssh_config" > "$state/ansible$n.ini"
  printf '#!/usr/bin/env bash\n' > "$state/bare$n.sh"
  for i in $(seq "$n"); do
    printf '[hosts.n%s]\nvars = { dir = "%s", ssh_config_file = "%s" }\n' "$i" "$state/data/galley/n$i" "$state/ssh_config" >> "$state/galley$n.toml"
    printf '[hosts.n%s]\nvars = { dir = "%s", ssh_config_file = "%s" }\n' "$i" "$state/data/baseline/n$i" "$state/ssh_config" >> "$state/baseline$n.toml"
    printf 'n%s base=%s\n' "$i" "$state/data/ansible/n$i" >> "$state/ansible$n.ini"
    printf 'ssh -F %s -o ControlPath=none n%s bash -s -- %s < %s &\n' "$state/ssh_config" "$i" "$state/data/bare/n$i" "$here/workload/bare.sh" >> "$state/bare$n.sh"
  done
  echo wait >> "$state/bare$n.sh"
done
printf 'local ansible_connection=local ansible_python_interpreter=%s base=%s\n' "$venv/bin/python" "$state/data/ansible/local" > "$state/ansible_local.ini"

# --- what each tool runs, and which folders a first run starts without -----------------------
command_for() { # tool target
  local w=$here/workload
  case "$1:$2" in
    bare:local) echo "bash $w/bare.sh $state/data/bare/local" ;;
    bare:*) echo "bash $state/bare$2.sh" ;;
    galley:local) echo "$GALLEY run $w/converge.rhai --set base=$state/data/galley/local" ;;
    galley:*) echo "$GALLEY run $w/converge.rhai -i $state/galley$2.toml" ;;
    baseline:local) echo "$BASELINE run $w/converge.rhai --set base=$state/data/baseline/local" ;;
    baseline:*) echo "$BASELINE run $w/converge.rhai -i $state/baseline$2.toml" ;;
    pyinfra:local) echo "$venv/bin/pyinfra -y @local $w/pyinfra_deploy.py --data base=$state/data/pyinfra/local" ;;
    pyinfra:*) echo "env BENCH_STATE=$state BENCH_PORT=$port BENCH_HOSTS=$2 $venv/bin/pyinfra -y $w/pyinfra_inventory.py $w/pyinfra_deploy.py" ;;
    ansible:local) echo "env ANSIBLE_CONFIG=$w/ansible.cfg $venv/bin/ansible-playbook -i $state/ansible_local.ini $w/ansible.yml" ;;
    ansible:*) echo "env ANSIBLE_CONFIG=$w/ansible.cfg $venv/bin/ansible-playbook -i $state/ansible$2.ini $w/ansible.yml" ;;
  esac
}

out=$here/results
[ -n "${KEEP:-}" ] || rm -rf "$out"
mkdir -p "$out"
for target in $TARGETS; do
  if [ -n "${INTERLEAVE:-}" ]; then
    # bare, galley and baseline in turns (bench/interleave.py); pyinfra and Ansible below.
    spec_first=$state/spec_first spec_rerun=$state/spec_rerun
    : > "$spec_first"; : > "$spec_rerun"
    for tool in $TOOLS; do
      case $tool in bare|galley|baseline) ;; *) continue ;; esac
      cmd=$(command_for "$tool" "$target")
      echo "== $tool, target $target (in turns): $cmd"
      rm -rf "$state/data/$tool"
      bash -c "$cmd" > "$state/last.log" 2>&1 || { cat "$state/last.log"; die "$tool failed on $target"; }
      printf '%s\t%s\t%s\n' "$tool" "rm -rf $state/data/$tool" "$cmd" >> "$spec_first"
      printf '%s\t\t%s\n' "$tool" "$cmd" >> "$spec_rerun"
    done
    for phase in $PHASES; do
      python3 "$here/interleave.py" "$out" "$target" "$phase" "$RUNS" "$state/spec_$phase"
    done
  fi
  for tool in $TOOLS; do
    if [ -n "${INTERLEAVE:-}" ]; then case $tool in bare|galley|baseline) continue ;; esac; fi
    cmd=$(command_for "$tool" "$target")
    if [ -n "${KEEP:-}" ] && [ -f "$out/$tool-$target-rerun.json" ]; then
      echo "== $tool, target $target: kept"
      continue
    fi
    runs=$RUNS
    case $tool in pyinfra|ansible) runs=$SLOW_RUNS ;; esac
    data=$state/data/$tool
    echo "== $tool, target $target: $cmd"
    # A sanity run that must succeed (and leaves the hosts converged for the re-run).
    rm -rf "$data"
    bash -c "$cmd" > "$state/last.log" 2>&1 || { cat "$state/last.log"; die "$tool failed on $target"; }
    if [[ " $PHASES " == *" first "* ]]; then
      hyperfine --style basic --runs "$runs" --prepare "rm -rf $data" \
        --export-json "$out/$tool-$target-first.json" -n "$tool $target first" "$cmd" > /dev/null
      bash -c "$cmd" > "$state/last.log" 2>&1 || { cat "$state/last.log"; die "$tool failed on $target"; }
    fi
    hyperfine --style basic --runs "$runs" --warmup 1 \
      --export-json "$out/$tool-$target-rerun.json" -n "$tool $target rerun" "$cmd" > /dev/null
  done
done

python3 "$here/summarize.py" "$out" "$TOOLS" "$TARGETS" | tee "$out/summary.md"
