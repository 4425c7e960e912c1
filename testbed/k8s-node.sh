#!/usr/bin/env bash
# k8s-node.sh — turns testbed nodes into hosts a real kubelet and containerd run on, and fills a
# local registry with the images built from the artifacts of k8s-artifacts.sh. The packages
# (kubeadm, kubelet, containerd.io, ...) come from the mirrors of k8s-repos.sh, installed by the
# recipe under test; this script gives the nodes only what this machine's kind makes necessary.
#
# Usage: k8s-node.sh nspawn-args                 # what GALLEY_TESTBED_NSPAWN_ARGS must hold for `up`
#        k8s-node.sh images VERSION REGISTRY     # push the control-plane, kube-proxy, etcd, CoreDNS,
#                                                # pause, flannel (and agnhost) images to REGISTRY
#        k8s-node.sh agnhost-tag VERSION         # the agnhost image's tag
#        k8s-node.sh prep DIR NODE               # make NODE of testbed DIR able to run a kubelet
#
# What the nodes need, and why (all found on this machine's kind: systemd-nspawn on a cgroup v1
# host whose own bounding set lacks CAP_SYS_RESOURCE):
# - all capabilities and no system call filter (SYSTEMD_SECCOMP=0: nspawn's filter refuses the
#   session keyring runc makes per container), the host's cgroup hierarchies bound at
#   /run/hostcg and bind-mounted over the read-only controllers nspawn gives the node, then
#   /run/hostcg unmounted (the kubelet reads every cgroup mount it finds and must see only
#   /sys/fs/cgroup's);
# - /proc/sys writable (kube-proxy and the kubelet set sysctls), /dev/kmsg (the OOM watcher);
# - /var/lib/containerd and /var/lib/docker not on the node's root, an overlay on which overlayfs
#   snapshots cannot be made (Docker's overlay2 driver fails there with "failed to mount overlay:
#   invalid argument"): the testbed binds them from this machine's disk
#   (GALLEY_TESTBED_NODE_DISKS), else they get a tmpfs here;
# - a default route and a resolver entry, both at an address nobody on the bridge holds.
# That no process may lower its OOM score here is galley's to see (the fact
# `oom_score_restricted`), not this script's.
set -euo pipefail
export LC_ALL=C

die() { echo "k8s-node: error: $*" >&2; exit 1; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

cmd_nspawn_args() {
    echo "--capability=all --bind=/sys/fs/cgroup:/run/hostcg --bind=/dev/kmsg"
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
    push "etcd:$etcd_tag" "$bin/etcd" "$bin/etcdctl" "$bin/etcdutl"
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
    # kube-proxy and flannel run iptables: the base userland, then their own files.
    base_layer "$work/base.tar"
    on_base() { # NAME:TAG DIR: the base layer, then DIR's tree as a second layer
        local ref="$reg/$1"
        tar -C "$2" -cf "$work/top.tar" .
        "$crane" append --insecure -f "$work/base.tar" -f "$work/top.tar" -t "$ref" >/dev/null 2>&1 ||
            die "crane append $ref"
        "$crane" mutate --insecure --env PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ref" >/dev/null 2>&1 ||
            die "crane mutate $ref"
    }
    rm -rf "$work/kp" && mkdir -p "$work/kp/usr/local/bin" && cp -L "$bin/kube-proxy" "$work/kp/usr/local/bin/"
    on_base "kube-proxy:$version" "$work/kp"
    # flannel's images under the names its manifest gives (ghcr.io/flannel-io/…), for a registry
    # mirror of ghcr.io: flanneld and install-conf in /opt/bin; the CNI plugin as /flannel.
    local manifest="$bin/kube-flannel.yml" flannel_ref cni_ref
    [[ -f $manifest ]] || die "flannel is not built: bash $HERE/k8s-artifacts.sh $version flannel"
    flannel_ref=$(sed -n 's#^ *image: ghcr.io/\(flannel-io/flannel:.*\)$#\1#p' "$manifest" | head -1)
    cni_ref=$(sed -n 's#^ *image: ghcr.io/\(flannel-io/flannel-cni-plugin:.*\)$#\1#p' "$manifest" | head -1)
    [[ -n $flannel_ref && -n $cni_ref ]] || die "no flannel images named in $manifest"
    rm -rf "$work/fl" && mkdir -p "$work/fl/opt/bin"
    cp -L "$bin/flanneld" "$bin/install-conf" "$work/fl/opt/bin/"
    on_base "$flannel_ref" "$work/fl"
    rm -rf "$work/fc" && mkdir -p "$work/fc" && cp -L "$bin/flannel-cni" "$work/fc/flannel"
    on_base "$cni_ref" "$work/fc"
    # agnhost (the e2e workload), as upstream's image: /agnhost the entrypoint, on a userland.
    local agn=""
    if [[ -x $bin/agnhost ]]; then
        agn="e2e-test-images/agnhost:$(agnhost_tag "$version")"
        rm -rf "$work/ag" && mkdir -p "$work/ag" && cp -L "$bin/agnhost" "$work/ag/agnhost"
        on_base "$agn" "$work/ag"
        "$crane" mutate --insecure --entrypoint=/agnhost "$reg/$agn" >/dev/null 2>&1 || die "crane mutate $reg/$agn"
        agn=", $agn"
    fi
    echo "k8s-node: pushed kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy $version, etcd $etcd_tag, pause $pause_tag, coredns $dns_tag, $flannel_ref, $cni_ref$agn to $reg" >&2
}

# The tag upstream gives the agnhost image: MAJOR.MINOR of test/images/agnhost/VERSION.
agnhost_tag() { # VERSION
    local v
    v=$(cat "$(go env GOMODCACHE)/k8s.io/kubernetes@$1/test/images/agnhost/VERSION") || die "no agnhost VERSION in k8s.io/kubernetes@$1"
    echo "${v%.*}"
}

# A Debian 12 userland just big enough for the images that need one (kube-proxy, flannel): sh,
# cp and a few coreutils, ip, and iptables (the nftables backend, Debian 12's default, and the
# legacy one), with their libraries and iptables' extensions, taken from the testbed's rootfs.
# Upstream builds these images on distroless-iptables and alpine; what the programs need of
# them is the same.
base_layer() { # OUT.tar
    local out=$1 root list work f lib t
    root=$(bash "$HERE/testbed.sh" rootfs) || die "no testbed rootfs"
    list=$(mktemp)
    work=$(mktemp -d)
    [[ -n $work && -d $work ]] || die "mktemp failed"
    local progs=(usr/bin/dash usr/bin/cp usr/bin/cat usr/bin/mkdir usr/bin/rm usr/bin/ln usr/bin/mv
        usr/bin/chmod usr/bin/ls usr/bin/sleep usr/bin/touch usr/bin/ip
        usr/sbin/xtables-nft-multi usr/sbin/xtables-legacy-multi)
    {
        for f in "${progs[@]}" "$root"/usr/lib/x86_64-linux-gnu/xtables/*.so; do
            f=${f#"$root"/}
            echo "$f"
            for lib in $(chroot "$root" ldd "/$f" 2>/dev/null | grep -o '/[^ ]*'); do
                echo "${lib#/}"
                chroot "$root" readlink -f "$lib" | sed 's#^/##'
            done
        done
        echo usr/lib64/ld-linux-x86-64.so.2
        printf '%s\n' etc/protocols etc/services etc/ethertypes
    } | sed 's#^lib/#usr/lib/#; s#^lib64/#usr/lib64/#' | sort -u >"$list"
    tar -C "$root" --no-recursion -cf - -T "$list" 2>/dev/null | tar -C "$work" -xf -
    rm -f "$list"
    ln -s usr/bin "$work/bin"
    ln -s usr/sbin "$work/sbin"
    ln -s usr/lib "$work/lib"
    ln -s usr/lib64 "$work/lib64"
    ln -s dash "$work/usr/bin/sh"
    for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
        ln -s xtables-nft-multi "$work/usr/sbin/$t"
        ln -s xtables-nft-multi "$work/usr/sbin/${t/tables/tables-nft}"
        ln -s xtables-legacy-multi "$work/usr/sbin/${t/tables/tables-legacy}"
    done
    mkdir -p "$work/tmp" "$work/run"
    echo 'root:x:0:0:root:/root:/bin/sh' >"$work/etc/passwd"
    tar -C "$work" -cf "$out" .
    rm -rf "$work"
}

cmd_prep() {
    local dir="${1:?prep DIR NODE}" node="${2:?prep DIR NODE}"
    # The node's own cgroup in each controller hierarchy, as the machine sees it (the testbed put
    # it there with GALLEY_TESTBED_ALL_CGROUPS=1): that folder becomes the node's writable
    # /sys/fs/cgroup/<controller>, so the kubelet's cgroups stay below the node.
    local nspawn init cgs
    nspawn=$(awk -v n="$node" '$1 == n { print $5 }' "$dir/nodes.tsv")
    init=$(pgrep -P "$nspawn" | head -1)
    [[ -n $init ]] || die "$node: no running container init under nspawn $nspawn"
    cgs=$(awk -F: '$2 != "" && $2 !~ /^name=/ { print $2 "=" $3 }' "/proc/$init/cgroup")
    ssh -F "$dir/ssh_config" "$node" bash -s -- $cgs <<'NODE' || die "prep of $node failed"
set -euo pipefail
[[ -d /run/hostcg ]] || { echo "no /run/hostcg: start the testbed with k8s-node.sh nspawn-args" >&2; exit 1; }
for cg in "$@"; do
    c=${cg%%=*} path=${cg#*=}
    case $path in */galley-testbed/*) ;; *) echo "controller $c: the node is not in its own cgroup ($path); start the testbed with GALLEY_TESTBED_ALL_CGROUPS=1" >&2; exit 1 ;; esac
    [[ -d /sys/fs/cgroup/$c ]] && mount --bind "/run/hostcg/$c$path" "/sys/fs/cgroup/$c"
done
for m in $(awk '$2 ~ "^/run/hostcg/" {print $2}' /proc/self/mounts); do umount -l "$m"; done
umount -l /run/hostcg 2>/dev/null || true
mount -o remount,rw /proc/sys
for d in /var/lib/containerd /var/lib/docker; do
    mkdir -p "$d"
    mountpoint -q "$d" || mount -t tmpfs tmpfs "$d"
done
# Kubernetes needs a default route: flannel uses the interface that holds it, and a Service
# address (10.96.0.1) is unreachable without one, before kube-proxy's DNAT applies. This one
# points at an address nobody on the bridge holds, so nothing leaves the bridge through it.
addr=$(ip -4 -o addr show host0 | awk '{print $4}' | cut -d/ -f1)
if ! ip -4 route show default | grep -q .; then
    ip route add default via "${addr%.*}.254" dev host0 onlink
fi
# CoreDNS forwards to the node's resolvers and refuses to start with none ("no nameservers
# found"): one, at the same address nobody holds.
grep -q '^nameserver' /etc/resolv.conf || echo "nameserver ${addr%.*}.254" >>/etc/resolv.conf
NODE
}

case "${1:-}" in
    nspawn-args) shift; cmd_nspawn_args "$@" ;;
    images) shift; cmd_images "$@" ;;
    prep) shift; cmd_prep "$@" ;;
    agnhost-tag) shift; agnhost_tag "${1:?agnhost-tag VERSION}" ;;
    *) die "usage: k8s-node.sh nspawn-args | images VERSION REGISTRY | prep DIR NODE | agnhost-tag VERSION" ;;
esac
