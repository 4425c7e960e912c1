#!/usr/bin/env bash
# Installs what the test tiers need on a fresh Debian 12 machine (as root), then runs every tier:
# unit tests, integration tests against real processes/files/sshd/dnf, and the end-to-end suite
# on the systemd-nspawn testbed, and the real-Kubernetes tier.
# Usage: bash scripts/test.sh          every tier
#        bash scripts/test.sh k8s      tier 4 alone (the real Kubernetes binaries' tests)
set -euo pipefail
cd "$(dirname "$0")/.."

# testbed (tier 3): debootstrap systemd-container dpkg-dev iproute2 util-linux procps
# SSH tests: openssh-server openssh-client sudo; yum tests: dnf rpm createrepo-c;
# registry mirror tests: containerd (the real containerd and ctr read the hosts.toml galley writes);
# remote-process counts: strace, and perl (the SSH agent's stat helper); the real-cluster tier's
# package repositories: gpg (signing), and libseccomp-dev (runc, built for our containerd.io package)
need_pkgs=(debootstrap systemd-container openssh-server openssh-client dpkg-dev iproute2 sudo
           util-linux procps dnf rpm createrepo-c ca-certificates curl tar containerd strace perl
           gpg libseccomp-dev)
missing=()
for p in "${need_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/test.sh: missing packages (${missing[*]}); run as root so they can be installed" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Tier 4 needs the real Kubernetes binaries, built from Go modules once per machine and cached
# (testbed/k8s-artifacts.sh; cold: see README, warm: instant).
command -v go >/dev/null || { echo "scripts/test.sh: Go is needed for tier 4 (the polyglot machine has it)" >&2; exit 1; }
# Kubernetes, etcd, CoreDNS, pause, the CNI plugins, crane, the registry, containerd, flannel,
# crictl and agnhost (tests/k8s_multi.rs and tests/k8s_ha.rs form real clusters); then the minor
# before, which tests/k8s_multi.rs forms a cluster of and upgrades (no agnhost: the workload runs
# on the current minor), with Docker Engine (dockerd and the CLI, which only tests/k8s_multi.rs
# installs, so a cold machine builds them beside the tests that need only the current minor).
quietly() {
    local log
    log=$(mktemp)
    if ! "$@" >/dev/null 2>"$log"; then
        cat "$log" >&2
        echo "scripts/test.sh: $* failed" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}
current_components=(kubernetes etcd pause coredns cni crane registry containerd flannel crictl agnhost)
artifacts_current() {
    quietly bash testbed/k8s-artifacts.sh "${GALLEY_K8S_VERSION:-v1.37.2}" "${current_components[@]}"
}
previous_components=(kubernetes etcd pause coredns cni crane registry containerd flannel crictl docker)
# ARGS: a prefix for the build (`nice -n 10`).
artifacts_previous() {
    quietly "$@" bash testbed/k8s-artifacts.sh v1.36.3 "${previous_components[@]}"
}
artifacts() { artifacts_current && artifacts_previous; }
# Built already (a warm machine): the binaries of the previous minor are in place.
previous_cached() {
    local d b
    d=$(bash testbed/k8s-artifacts.sh path v1.36.3)
    for b in kubeadm kubelet kube-apiserver etcd coredns pause crane registry containerd flanneld crictl runc dockerd docker; do
        [ -x "$d/$b" ] || return 1
    done
}
# The judges replay plans in namespaces and k8s_control_plane runs etcd and an API server as
# processes on one throwaway node: neither forms a cluster, so both run on the other tiers'
# side; the rest form real clusters (see clusters() below), the long pole.
k8s_judges=(k8s_kubeadm_judges k8s_control_plane)
k8s_clusters=(k8s_multi k8s_ha)
k8s_tests=("${k8s_judges[@]}" "${k8s_clusters[@]}")
k8s_args=()
for t in "${k8s_tests[@]}"; do k8s_args+=(--test "$t"); done

if [ "${1:-}" = k8s ]; then
    artifacts
    cargo test "${k8s_args[@]}" -- --test-threads=2
    exit
fi

# Tier 4 is mostly waiting (images pulled, kubelets and static pods started, drains), and on a
# cold machine its artifacts are the longest step: so the artifacts are built, then the cluster
# tests run, beside the rest of the build and the other tiers (each testbed has its own bridge and subnet).
# The judges and k8s_control_plane need the artifacts but no cluster: they run after tiers 1-3, still beside the
# cluster tests, so that neither side waits on the other for long. Tier 4's output goes to
# logs, printed after the other tiers' when all are done.
rest_args=(--lib --bins)
for f in tests/*.rs; do
    t=$(basename "$f" .rs)
    [[ " ${k8s_tests[*]} " == *" $t "* ]] || rest_args+=(--test "$t")
done
k8s_log=$(mktemp)
judges_log=$(mktemp)
built=$(mktemp -u)
compiled=$(mktemp -u)
cluster_args=()
for t in "${k8s_clusters[@]}"; do cluster_args+=(--test "$t"); done
# The cluster tests are the long pole: their binaries are compiled first (galley and three
# test crates), and they start while the other ~65 test crates are still being compiled.
# One cluster at a time: two at once (the external-etcd one beside k8s_multi's) passed once
# and then ran the machine out of inotify instances (kube-proxy: "fsnotify watcher init: too
# many open files"; fs.inotify.max_user_instances is 128 for all nodes together). Cold, the
# previous minor is built (at a lower priority) while the tests that need only the current one
# run.
clusters() {
    local t=(-- --test-threads=2) prev
    artifacts_current || return 1
    touch "$built"
    if previous_cached; then
        cargo test --test k8s_ha "${t[@]}" || return 1
        cargo test --test k8s_multi "${t[@]}"
        return
    fi
    artifacts_previous nice -n 10 &
    prev=$!
    cargo test --test k8s_ha "${t[@]}" external || { wait "$prev"; return 1; }
    wait "$prev" || return 1
    cargo test --test k8s_ha "${t[@]}" --skip external || return 1
    cargo test --test k8s_multi "${t[@]}"
}
( cargo test --quiet --no-run "${cluster_args[@]}"; touch "$compiled"; clusters ) >"$k8s_log" 2>&1 &
k8s=$!
while [ ! -e "$compiled" ] && kill -0 "$k8s" 2>/dev/null; do sleep 1; done
rm -f "$compiled"
# The clusters' etcd and API servers must not wait for the cores behind this side's compiler
# (a starved etcd member fails a join): this side runs at a lower priority and takes what the
# clusters leave, which is most of the time, as they mostly wait.
rest_rc=0
nice -n 15 cargo build --quiet --all-targets &&
    nice -n 15 cargo test "${rest_args[@]}" -- --test-threads="${GALLEY_TEST_THREADS:-4}" || rest_rc=$?
judges_rc=0
while [ ! -e "$built" ] && kill -0 "$k8s" 2>/dev/null; do sleep 5; done
if [ -e "$built" ]; then
    judge_args=()
    for t in "${k8s_judges[@]}"; do judge_args+=(--test "$t"); done
    nice -n 15 cargo test "${judge_args[@]}" -- --test-threads=2 >"$judges_log" 2>&1 || judges_rc=$?
else
    echo "(not run: the artifacts were not built; see below)" >"$judges_log"
    judges_rc=1
fi
rm -f "$built"
k8s_rc=0
wait "$k8s" || k8s_rc=$?
echo "== tier 4 (real Kubernetes): the judges, run after the tiers above =="
cat "$judges_log"
echo "== tier 4 (real Kubernetes): the clusters, run beside the tiers above =="
cat "$k8s_log"
rm -f "$k8s_log" "$judges_log"
[ "$rest_rc" -eq 0 ] || { echo "scripts/test.sh: tiers 1-3 failed (exit $rest_rc)" >&2; exit "$rest_rc"; }
[ "$judges_rc" -eq 0 ] || { echo "scripts/test.sh: tier 4's judges failed (exit $judges_rc)" >&2; exit "$judges_rc"; }
[ "$k8s_rc" -eq 0 ] || { echo "scripts/test.sh: tier 4 failed (exit $k8s_rc)" >&2; exit "$k8s_rc"; }

# The testbed must leave nothing behind: no bridge, veth, cgroup or nspawn process.
for _ in 1 2 3 4 5 6 7 8 9 10; do
    bash testbed/testbed.sh check-clean >/dev/null 2>&1 && break
    sleep 1
done
bash testbed/testbed.sh check-clean
