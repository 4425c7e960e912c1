#!/usr/bin/env bash
# `galley plan kubeadm` on an ha-stacked inventory: 3 control planes, 2 lb hosts and N workers,
# every host given the facts of a profile (no host is contacted). Reports wall time (hyperfine),
# peak RSS (/usr/bin/time) and the plan's lines and actions for 8, 26, 52 and 105 hosts, so linear
# growth shows. Uses hyperfine (installed if missing).
# Usage: bash bench/plan.sh            (figures go to docs/benchmarks.md by hand)
#   OLD=/tmp/galley-plan-old bash bench/plan.sh   also times that binary, side by side in one run
#   PROFILE=rocky9 (default debian12), RUNS=20, SIZES="8 26 52 105"
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --quiet
G=${CARGO_TARGET_DIR:-$PWD/target}/release/galley
PROFILE=${PROFILE:-debian12}
RUNS=${RUNS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# inventory HOSTS: cp1..cp3 (10.0.1.11-13), lb1, lb2 (.14, .15), w1..w(HOSTS-5) (10.0.2.x, 10.0.3.x)
inventory() {
  local hosts=$1 i f=$work/inv$1.toml
  : > "$f"
  for i in 1 2 3; do printf '[hosts.cp%d]\naddress = "10.0.1.%d"\nuser = "root"\n' "$i" $((10 + i)) >> "$f"; done
  for i in 1 2; do printf '[hosts.lb%d]\naddress = "10.0.1.%d"\nuser = "root"\n' "$i" $((13 + i)) >> "$f"; done
  for i in $(seq $((hosts - 5))); do
    printf '[hosts.w%d]\naddress = "10.0.%d.%d"\nuser = "root"\n' "$i" $((2 + i / 200)) $((10 + i % 200)) >> "$f"
  done
  {
    echo '[groups.control_plane]'
    echo 'hosts = ["cp1", "cp2", "cp3"]'
    echo '[groups.lb]'
    echo 'hosts = ["lb1", "lb2"]'
    echo '[groups.workers]'
    printf 'hosts = [%s]\n' "$(seq -f '"w%g"' -s ', ' $((hosts - 5)))"
  } >> "$f"
  echo "$f"
}
plan_args() { echo "plan kubeadm -i $(inventory "$1") --profile $PROFILE --set topology=ha-stacked --set vip=10.0.1.100"; }

echo "plan size by hosts ($G):"
printf '%6s %8s %8s\n' hosts lines actions
for n in ${SIZES:-8 26 52 105}; do
  # shellcheck disable=SC2046
  lines=$(NO_COLOR=1 "$G" $(plan_args "$n") 2>/dev/null | wc -l)
  # shellcheck disable=SC2046
  actions=$(NO_COLOR=1 "$G" $(plan_args "$n") --output json 2>/dev/null | grep -c '"type":"action"' || true)
  printf '%6d %8d %8d\n' "$n" "$lines" "$actions"
done

args=$(plan_args 105)
cmds=(-n "galley plan, 105 hosts" "$G $args")
[ -n "${OLD:-}" ] && cmds=(-n "old galley plan, 105 hosts" "$OLD $args" "${cmds[@]}")
NO_COLOR=1 hyperfine -N --warmup 2 --runs "$RUNS" "${cmds[@]}" --export-markdown "$work/plan.md" >&2
cat "$work/plan.md"
for b in ${OLD:-} "$G"; do
  # shellcheck disable=SC2086
  NO_COLOR=1 /usr/bin/time -f "peak RSS of $b, 105-host plan: %M KiB" "$b" $args >/dev/null
done
