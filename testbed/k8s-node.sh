#!/usr/bin/env bash
# k8s-node.sh — turns testbed nodes into hosts a real kubelet and containerd run on, and fills a
# local registry with the control-plane images built from the artifacts of k8s-artifacts.sh.
#
# Usage: k8s-node.sh nspawn-args                 # what GALLEY_TESTBED_NSPAWN_ARGS must hold for `up`
#        k8s-node.sh images VERSION REGISTRY     # push kube-*, etcd and pause images to REGISTRY
#        k8s-node.sh prep DIR NODE               # make NODE of testbed DIR ready for kubelet
#
# What the nodes need, and why (all found on this machine's kind: systemd-nspawn on a cgroup v1
# host whose own bounding set lacks CAP_SYS_RESOURCE):
# - all capabilities and no system call filter (SYSTEMD_SECCOMP=0: nspawn's filter refuses the
#   session keyring runc makes per container), the host's cgroup hierarchies bound at /run/hostcg and bind-mounted over
#   the read-only controllers nspawn gives the node, then /run/hostcg unmounted (the kubelet
#   reads every cgroup mount it finds and must see only /sys/fs/cgroup's);
# - /proc/sys writable (kube-proxy and the kubelet set sysctls), /dev/kmsg (the OOM watcher);
# - /var/lib/containerd on a tmpfs (the node's root is an overlay, on which overlayfs snapshots
#   cannot be made);
# - the artifacts bound read-only at /opt/k8s, linked into /usr/local/bin and /opt/cni/bin, and
#   the machine's runc copied in (Debian's containerd package brings it);
# - units for containerd and kubelet, as the packages would install them.
# containerd must run with `restrict_oom_score_adj = true`: without CAP_SYS_RESOURCE no process
# may lower its OOM score, and every pod sandbox asks for -998. The test's recipe sets it.
set -euo pipefail
export LC_ALL=C

die() { echo "k8s-node: error: $*" >&2; exit 1; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${GALLEY_K8S_CACHE:-/var/cache/galley-k8s}"

cmd_nspawn_args() {
    echo "--capability=all --bind=/sys/fs/cgroup:/run/hostcg --bind=/dev/kmsg --bind-ro=$CACHE:/opt/k8s"
}

cmd_images() {
    local version="${1:?images VERSION REGISTRY}" reg="${2:?images VERSION REGISTRY}"
    local bin; bin=$(bash "$HERE/k8s-artifacts.sh" path "$version")
    local crane="$bin/crane" work; work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    local etcd_tag pause_tag
    etcd_tag=$("$bin/kubeadm" config images list --kubernetes-version "$version" 2>/dev/null | sed -n 's#.*/etcd:##p')
    pause_tag=$("$bin/kubeadm" config images list --kubernetes-version "$version" 2>/dev/null | sed -n 's#.*/pause:##p')
    [[ -n $etcd_tag && -n $pause_tag ]] || die "kubeadm $version lists no etcd or pause image"
    push() { # NAME:TAG FILES... : one layer with the files under /usr/local/bin, PATH set
        local ref="$reg/$1"; shift
        rm -rf "$work/l" && mkdir -p "$work/l/usr/local/bin"
        cp -L "$@" "$work/l/usr/local/bin/"
        tar -C "$work/l" -cf "$work/layer.tar" usr
        "$crane" append --insecure -f "$work/layer.tar" -t "$ref" >/dev/null 2>&1 || die "crane append $ref"
        "$crane" mutate --insecure --env PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ref" >/dev/null 2>&1 ||
            die "crane mutate $ref"
    }
    local c
    for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
        push "$c:$version" "$bin/$c"
    done
    push "etcd:$etcd_tag" "$bin/etcd" "$bin/etcdctl"
    root_image() { # NAME:TAG BINARY: the binary as /NAME, the image's entrypoint
        local ref="$reg/$1" file="${2##*/}"
        rm -rf "$work/p" && mkdir -p "$work/p" && cp -L "$2" "$work/p/$file"
        tar -C "$work/p" -cf "$work/root.tar" "$file"
        "$crane" append --insecure -f "$work/root.tar" -t "$ref" >/dev/null 2>&1 || die "crane append $ref"
        "$crane" mutate --insecure --entrypoint="/$file" "$ref" >/dev/null 2>&1 || die "crane mutate $ref"
    }
    root_image "pause:$pause_tag" "$bin/pause"
    [[ -x $bin/coredns ]] || die "coredns is not built: bash $HERE/k8s-artifacts.sh $version coredns"
    local dns_tag
    dns_tag=$("$bin/kubeadm" config images list --kubernetes-version "$version" 2>/dev/null | sed -n 's#.*/coredns:##p')
    # kubeadm names it coredns/coredns under registry.k8s.io and coredns under another repository.
    root_image "coredns:$dns_tag" "$bin/coredns"
    root_image "coredns/coredns:$dns_tag" "$bin/coredns"
    echo "k8s-node: pushed kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy $version, etcd $etcd_tag, pause $pause_tag, coredns $dns_tag to $reg" >&2
}

cmd_prep() {
    local dir="${1:?prep DIR NODE}" node="${2:?prep DIR NODE}"
    local version; version=$(ls "$CACHE" | grep -m1 '^v1\.')
    [[ -n $version ]] || die "no artifacts in $CACHE: run k8s-artifacts.sh first"
    ssh -F "$dir/ssh_config" "$node" 'cat > /usr/local/sbin/runc && chmod 0755 /usr/local/sbin/runc' </usr/sbin/runc ||
        die "cannot copy runc to $node"
    # The node's own cgroup in each controller hierarchy, as the machine sees it (the testbed put
    # it there with GALLEY_TESTBED_ALL_CGROUPS=1): that folder becomes the node's writable
    # /sys/fs/cgroup/<controller>, so the kubelet's cgroups stay below the node.
    local nspawn init cgs
    nspawn=$(awk -v n="$node" '$1 == n { print $5 }' "$dir/nodes.tsv")
    init=$(pgrep -P "$nspawn" | head -1)
    [[ -n $init ]] || die "$node: no running container init under nspawn $nspawn"
    cgs=$(awk -F: '$2 != "" && $2 !~ /^name=/ { print $2 "=" $3 }' "/proc/$init/cgroup")
    ssh -F "$dir/ssh_config" "$node" bash -s -- "$version" $cgs <<'NODE' || die "prep of $node failed"
set -euo pipefail
version=$1; shift
[[ -d /run/hostcg ]] || { echo "no /run/hostcg: start the testbed with k8s-node.sh nspawn-args" >&2; exit 1; }
for cg in "$@"; do
    c=${cg%%=*} path=${cg#*=}
    case $path in */galley-testbed/*) ;; *) echo "controller $c: the node is not in its own cgroup ($path); start the testbed with GALLEY_TESTBED_ALL_CGROUPS=1" >&2; exit 1 ;; esac
    [[ -d /sys/fs/cgroup/$c ]] && mount --bind "/run/hostcg/$c$path" "/sys/fs/cgroup/$c"
done
for m in $(awk '$2 ~ "^/run/hostcg/" {print $2}' /proc/self/mounts); do umount -l "$m"; done
umount -l /run/hostcg 2>/dev/null || true
mount -o remount,rw /proc/sys
mkdir -p /var/lib/containerd /opt/cni/bin /etc/cni/net.d /usr/local/bin /etc/containerd
mountpoint -q /var/lib/containerd || mount -t tmpfs tmpfs /var/lib/containerd
for b in /opt/k8s/$version/bin/*; do
    t=$(readlink "$b" || true)
    src=${t:+/opt/k8s/tools/${t##*/}}
    src=${src:-$b}
    case ${b##*/} in
        bridge|host-local|loopback|portmap) ln -sf "$src" "/opt/cni/bin/${b##*/}" ;;
        *) ln -sf "$src" "/usr/local/bin/${b##*/}" ;;
    esac
done
cat > /etc/systemd/system/containerd.service <<EOF
[Unit]
Description=containerd
After=network.target
[Service]
ExecStart=/usr/local/bin/containerd
Delegate=yes
KillMode=process
Restart=always
[Install]
WantedBy=multi-user.target
EOF
cat > /etc/systemd/system/kubelet.service <<EOF
[Unit]
Description=kubelet
[Service]
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
ExecStart=/usr/local/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml \$KUBELET_KUBEADM_ARGS
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable kubelet >/dev/null 2>&1
NODE
}

case "${1:-}" in
    nspawn-args) shift; cmd_nspawn_args "$@" ;;
    images) shift; cmd_images "$@" ;;
    prep) shift; cmd_prep "$@" ;;
    *) die "usage: k8s-node.sh nspawn-args | images VERSION REGISTRY | prep DIR NODE" ;;
esac
