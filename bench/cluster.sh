#!/usr/bin/env bash
# Real-cluster benchmark (docs/benchmarks.md): the kubeadm recipe's idempotent re-run on a formed
# `multi` cluster of 3 testbed nodes (one control plane, two workers, flannel), against the bare
# floor of the same probes: every command galley's re-run ran on each host (taken from its own
# JSON events), as one bash script per host over one ssh, all hosts at once. The floor does not
# stat or read files (galley's agent does, over the same connection), so it is a floor.
# Not a CI gate. The world is the one tests/k8s_multi.rs uses (testbed/README.md): testbed
# nodes with no route out, the registry and an HTTP mirror on the bridge.
#
# Needs root, hyperfine, python3 (its http.server serves the mirror tree), the tier-4 artifacts
# (bash testbed/k8s-artifacts.sh v1.37.2). Settings: RUNS=5, GALLEY=path (default: release build).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
RUNS=${RUNS:-5}
VERSION=v1.37.2
die() { echo "cluster.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (the testbed needs it)"
command -v hyperfine >/dev/null || die "hyperfine is missing: apt-get install hyperfine"
command -v python3 >/dev/null || die "python3 is missing"
if [ -z "${GALLEY:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
    GALLEY=$root/target/release/galley
fi
bin=$(bash "$root/testbed/k8s-artifacts.sh" path "$VERSION")
[ -x "$bin/registry" ] || die "no artifacts: bash testbed/k8s-artifacts.sh $VERSION"

work=$(mktemp -d)
pids=()
DIR=""
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -z "$DIR" ] || bash "$root/testbed/testbed.sh" down "$DIR" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

export GALLEY_TESTBED_ALL_CGROUPS=1 SYSTEMD_SECCOMP=0
GALLEY_TESTBED_NSPAWN_ARGS=$(bash "$root/testbed/k8s-node.sh" nspawn-args)
export GALLEY_TESTBED_NSPAWN_ARGS
DIR=$(bash "$root/testbed/testbed.sh" up 3 --owner-pid $$)
a=$(awk '$1 == "node1" { print $2 }' "$DIR/nodes.tsv")
gw=${a%.*}.1

printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\nhttp:\n  addr: %s:5000\nlog:\n  level: warn\n' \
    "$work" "$gw" >"$work/registry.yml"
"$bin/registry" serve "$work/registry.yml" >/dev/null 2>&1 &
pids+=($!)
bash "$root/testbed/k8s-node.sh" images "$VERSION" "$gw:5000" 2>/dev/null
bash "$root/testbed/k8s-repos.sh" "$VERSION" "$work/tree"
(cd "$work/tree" && exec python3 -m http.server --bind "$gw" 8080 >/dev/null 2>&1) &
pids+=($!)
{
    while read -r name addr _; do
        bash "$root/testbed/k8s-node.sh" prep "$DIR" "$name" >&2
        echo "deb [trusted=yes] http://$gw:8080/deb.debian.org/debian bookworm main" |
            ssh -F "$DIR/ssh_config" "$name" 'cat >/etc/apt/sources.list.d/site-debian.list'
        printf '[hosts.%s]\naddress = "%s"\nvars = { node_ip = "%s" }\n' "$name" "$name" "$addr"
    done <"$DIR/nodes.tsv"
    printf '[groups.control_plane]\nhosts = ["node1"]\n[groups.workers]\nhosts = ["node2", "node3"]\n'
    printf '[groups.all.vars]\nssh_config_file = "%s"\n' "$DIR/ssh_config"
} >"$work/inv.toml"

args=(run kubeadm -i "$work/inv.toml" --set topology=multi --set cni=flannel
    --mirror "https://pkgs.k8s.io=http://$gw:8080/pkgs.k8s.io"
    --mirror "https://download.docker.com=http://$gw:8080/download.docker.com"
    --mirror "https://github.com=http://$gw:8080/github.com"
    --registry-mirror "registry.k8s.io=http://$gw:5000" --registry-mirror "ghcr.io=http://$gw:5000")
echo "cluster.sh: forming the cluster (a few minutes)" >&2
"$GALLEY" "${args[@]}" >"$work/first.txt" 2>&1 || { tail -30 "$work/first.txt"; die "the first run failed"; }
"$GALLEY" "${args[@]}" --output json >"$work/rerun.json" 2>/dev/null || die "the re-run failed"
changed=$(jq -s '[.[] | select(.type == "action" and .status == "changed")] | length' "$work/rerun.json")
[ "$changed" = 0 ] || die "the re-run changed $changed actions: no idempotent re-run to time"

# The floor: each host's commands from the re-run, in order, as one script over one ssh.
for h in node1 node2 node3; do
    jq -r --arg h "$h" 'select(.type == "action" and .host == $h) | .commands[]? | map(@sh) | join(" ")' \
        "$work/rerun.json" | sed 's/$/ >\/dev\/null 2>\&1 || true/' >"$work/floor-$h.sh"
done
{
    echo '#!/usr/bin/env bash'
    for h in node1 node2 node3; do
        echo "ssh -F '$DIR/ssh_config' $h bash -s <'$work/floor-$h.sh' &"
    done
    echo wait
} >"$work/floor.sh"
probes=$(cat "$work"/floor-node*.sh | wc -l)
echo "cluster.sh: the re-run ran $probes commands over 3 hosts; timing $RUNS runs of each" >&2
printf -v galley_cmd '%q ' "$GALLEY" "${args[@]}"
hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$here/results-cluster.md" \
    -n floor "bash $work/floor.sh" -n galley "$galley_cmd"
cat "$here/results-cluster.md"
