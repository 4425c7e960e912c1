#!/usr/bin/env bash
# k8s-repos.sh — the package repositories and release files the kubeadm recipe fetches on
# Debian 12, built from the artifacts of k8s-artifacts.sh, as a mirror tree a plain HTTP server
# serves to testbed nodes that have no route out.
#
# Usage: k8s-repos.sh VERSION DIR     # e.g. v1.37.2 /tmp/mirror; prints nothing on success
#
# DIR/<upstream host>/<upstream path>, which is what `--mirror https://HOST=http://MIRROR/HOST`
# expects:
# - pkgs.k8s.io/core:/stable:/v1.N/deb/: the minor's flat repository with kubeadm, kubelet,
#   kubectl, kubernetes-cni and cri-tools, laid out and named as pkgs.k8s.io does (1.37.2-1.1), its public
#   key at Release.key;
# - download.docker.com/linux/debian/: Docker's bookworm/stable repository with containerd.io
#   (our containerd and runc builds: Docker's package bundles runc), and, where
#   the version's docker component is built, docker-ce and docker-ce-cli (Moby's dockerd and the
#   docker CLI built from their modules); its key at gpg;
# - github.com/flannel-io/flannel/releases/download/vX/kube-flannel.yml: flannel's manifest;
# - github.com/etcd-io/etcd/releases/download/vX/etcd-vX-linux-amd64.tar.gz: the etcd release
#   of the minor (etcd, etcdctl, etcdutl under etcd-vX-linux-amd64/, as the release packs them),
#   which etcd-restore installs for etcdutl;
# - deb.debian.org/debian/: the Debian packages the recipes install beyond the testbed's rootfs
#   (haproxy, keepalived), as a site's own Debian mirror holds them.
# Both repositories are signed with a key made for this call: apt checks it through the
# keyring the recipe fetched from the mirror, exactly as it would check upstream's.
# The .debs are cached per version in $GALLEY_K8S_CACHE/debs (the signing is per call).
set -euo pipefail
export LC_ALL=C

die() { echo "k8s-repos: error: $*" >&2; exit 1; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${GALLEY_K8S_CACHE:-/var/cache/galley-k8s}"
# Raise when build_debs puts something else in the packages.
DEBS_LAYOUT=3

# One .deb: NAME VERSION DEPENDS ROOT OUT [CONTROL-LINE...]; ROOT holds the files (and DEBIAN/
# scripts, if any).
deb() {
    local name=$1 ver=$2 deps=$3 root=$4 out=$5
    shift 5
    mkdir -p "$root/DEBIAN"
    {
        echo "Package: $name"
        echo "Version: $ver"
        echo "Architecture: amd64"
        echo "Maintainer: galley testbed <testbed@galley.test>"
        [[ -z $deps ]] || echo "Depends: $deps"
        [[ $# -eq 0 ]] || printf '%s\n' "$@"
        echo "Section: admin"
        echo "Priority: optional"
        echo "Description: $name, built from its Go module for galley's real-cluster tests"
    } >"$root/DEBIAN/control"
    dpkg-deb --root-owner-group -Zgzip -z1 --build "$root" "$out/${name}_${ver#*:}_amd64.deb" >/dev/null
}

# What dh_installsystemd's postinst does for UNIT: reload, enable, start.
postinst_unit() { # ROOT UNIT
    mkdir -p "$1/DEBIAN"
    printf '#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then\n  systemctl daemon-reload\n  systemctl enable %s >/dev/null 2>&1 || true\n  systemctl start %s || true\nfi\n' \
        "$2" "$2" >"$1/DEBIAN/postinst"
    chmod 0755 "$1/DEBIAN/postinst"
}

kubelet_unit() {
    cat <<'UNIT'
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
}

kubeadm_dropin() {
    cat <<'UNIT'
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
UNIT
}

containerd_unit() {
    cat <<'UNIT'
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target dbus.service

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
UNIT
}

# kubeadm, kubelet, kubectl, kubernetes-cni and containerd.io into OUT, once per version.
build_debs() { # BIN K8S OUT
    local bin=$1 v=$2 out=$3
    mkdir -p "$CACHE/debs"
    exec 7>"$CACHE/debs/.lock"
    flock 7
    [[ -f $out/.ready ]] && { exec 7>&-; return 0; }
    [[ -x $bin/runc ]] || die "no runc in $bin (bash $HERE/k8s-artifacts.sh VERSION containerd)"
    local w
    w=$(mktemp -d)
    [[ -n $w && -d $w ]] || die "mktemp failed"
    rm -rf "$out" && mkdir -p "$out"
    local kver="$v-1.1" cni_ver ctr_ver
    cni_ver=$(readlink "$bin/bridge"); cni_ver=${cni_ver##*-v}
    ctr_ver=$(readlink "$bin/containerd"); ctr_ver=${ctr_ver##*-v}
    mkdir -p "$w/kubectl/usr/bin"
    cp -L "$bin/kubectl" "$w/kubectl/usr/bin/"
    deb kubectl "$kver" "" "$w/kubectl" "$out"
    mkdir -p "$w/cni/opt/cni/bin"
    local p
    for p in bridge host-local loopback portmap; do cp -L "$bin/$p" "$w/cni/opt/cni/bin/"; done
    deb kubernetes-cni "$cni_ver-1.1" "" "$w/cni" "$out"
    local k="$w/kubelet"
    mkdir -p "$k/usr/bin" "$k/usr/lib/systemd/system/kubelet.service.d"
    cp -L "$bin/kubelet" "$k/usr/bin/"
    kubelet_unit >"$k/usr/lib/systemd/system/kubelet.service"
    kubeadm_dropin >"$k/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    postinst_unit "$k" kubelet
    deb kubelet "$kver" "iptables, iproute2, mount, kubernetes-cni (>= 1.2.0)" "$k" "$out"
    mkdir -p "$w/kubeadm/usr/bin"
    cp -L "$bin/kubeadm" "$w/kubeadm/usr/bin/"
    deb kubeadm "$kver" "kubelet (>= 1.30.0), kubectl (>= 1.30.0), kubernetes-cni (>= 1.2.0), cri-tools (>= 1.30.0)" \
        "$w/kubeadm" "$out"
    local crictl_ver
    crictl_ver=$(readlink "$bin/crictl"); crictl_ver=${crictl_ver##*-v}
    mkdir -p "$w/cri-tools/usr/bin"
    cp -L "$bin/crictl" "$w/cri-tools/usr/bin/"
    deb cri-tools "$crictl_ver-1.1" "" "$w/cri-tools" "$out"
    local c="$w/containerd"
    mkdir -p "$c/usr/bin" "$c/usr/lib/systemd/system" "$c/etc/containerd"
    for p in containerd containerd-shim-runc-v2 ctr; do cp -L "$bin/$p" "$c/usr/bin/"; done
    cp -L "$bin/runc" "$c/usr/bin/runc"
    containerd_unit >"$c/usr/lib/systemd/system/containerd.service"
    # What Docker's package ships: the CRI plugin off (it expects Docker, not the kubelet).
    printf 'disabled_plugins = ["cri"]\n' >"$c/etc/containerd/config.toml"
    postinst_unit "$c" containerd
    echo /etc/containerd/config.toml >"$c/DEBIAN/conffiles"
    deb containerd.io "$ctr_ver-1~debian.12~bookworm" "" "$c" "$out" \
        "Provides: containerd, runc" "Conflicts: containerd, runc" "Replaces: containerd, runc"
    rm -rf "$w"
    touch "$out/.ready"
    exec 7>&-
}

# docker-ce (dockerd, docker-proxy, Moby's docker.service and docker.socket) and docker-ce-cli,
# from BIN's docker component, into OUT once per Docker version, named and versioned as Docker's
# bookworm repository names them (5:29.8.0-1~debian.12~bookworm). docker-ce's postinst does what
# Docker's does: the docker group (docker.socket's SocketGroup), then the units enabled and started.
build_docker_debs() { # BIN OUT
    local bin=$1 out=$2
    mkdir -p "$CACHE/debs"
    exec 7>"$CACHE/debs/.lock"
    flock 7
    [[ -f $out/.ready ]] && { exec 7>&-; return 0; }
    local w ver
    w=$(mktemp -d)
    [[ -n $w && -d $w ]] || die "mktemp failed"
    rm -rf "$out" && mkdir -p "$out"
    ver=$("$bin/docker" --version | sed -n 's/^Docker version \([0-9.]*\),.*/\1/p')
    [[ -n $ver ]] || die "$bin/docker gave no version"
    ver="5:$ver-1~debian.12~bookworm"
    local d="$w/docker-ce"
    mkdir -p "$d/usr/bin" "$d/usr/lib/systemd/system"
    cp -L "$bin/dockerd" "$bin/docker-proxy" "$d/usr/bin/"
    cp -L "$bin/docker.service" "$bin/docker.socket" "$d/usr/lib/systemd/system/"
    mkdir -p "$d/DEBIAN"
    printf '%s\n' '#!/bin/sh' 'set -e' 'getent group docker >/dev/null || groupadd --system docker' \
        'if [ -d /run/systemd/system ]; then' '  systemctl daemon-reload' \
        '  systemctl enable docker.socket docker.service >/dev/null 2>&1 || true' \
        '  systemctl start docker || true' 'fi' >"$d/DEBIAN/postinst"
    chmod 0755 "$d/DEBIAN/postinst"
    deb docker-ce "$ver" "containerd.io (>= 1.7.27), iptables" "$d" "$out" "Recommends: docker-ce-cli"
    mkdir -p "$w/cli/usr/bin"
    cp -L "$bin/docker" "$w/cli/usr/bin/"
    deb docker-ce-cli "$ver" "" "$w/cli" "$out"
    rm -rf "$w"
    touch "$out/.ready"
    exec 7>&-
}

# Release over the Packages files below DIR, signed (InRelease and Release.gpg) with the key in
# $GNUPGHOME.
release() { # DIR FIELD...
    local dir=$1 h
    shift
    {
        printf '%s\n' "$@"
        echo "Date: $(date -Ru)"
        echo "Architectures: amd64"
        for h in MD5Sum:md5sum SHA256:sha256sum; do
            echo "${h%%:*}:"
            (cd "$dir" && find . -name 'Packages*' -type f | sed 's#^\./##' | sort | while read -r f; do
                printf ' %s %s %s\n' "$(${h#*:} "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
            done)
        done
    } >"$dir/Release"
    gpg --batch --yes --clearsign -o "$dir/InRelease" "$dir/Release" 2>/dev/null
    gpg --batch --yes -abs -o "$dir/Release.gpg" "$dir/Release" 2>/dev/null
}

# The Debian packages the recipes install that the testbed's rootfs lacks (HAProxy and
# keepalived for the HA topologies; ca-certificates, curl and gnupg, the docker recipe's
# prerequisites as Docker's install guide lists them; with their dependencies), fetched once from Debian with
# this machine's apt into $CACHE/debian, as the site's own Debian mirror would hold them:
# OUT/deb.debian.org/debian, suite bookworm, component main (unsigned: a node trusts its site's
# mirror by its own sources entry).
debian_mirror() { # OUT
    # The folder's name changes with the list, so a cache of a shorter one is not used.
    local out=$1 pool="$CACHE/debian/bookworm-2" pkgs=(haproxy keepalived ca-certificates curl gnupg)
    mkdir -p "$CACHE/debian"
    exec 8>"$CACHE/debian/.lock"
    flock 8
    if [[ ! -f $pool/.ready ]]; then
        local root want have tmp
        root=$(bash "$HERE/testbed.sh" rootfs) || die "no testbed rootfs"
        apt-cache policy haproxy 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null || apt-get update -qq
        want=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "${pkgs[@]}" 2>/dev/null | grep '^[a-z0-9]' | sort -u)
        have=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Package}\n' | sort -u)
        tmp="$pool.tmp"
        rm -rf "$tmp" && mkdir -p "$tmp"
        # shellcheck disable=SC2046
        (cd "$tmp" && apt-get download -qq $(comm -23 <(echo "$want") <(echo "$have")) 2>/dev/null) ||
            die "apt-get download of ${pkgs[*]} and their dependencies failed"
        rm -rf "$pool" && mv "$tmp" "$pool" && touch "$pool/.ready"
    fi
    exec 8>&-
    local d="$out/deb.debian.org/debian"
    mkdir -p "$d/pool/main" "$d/dists/bookworm/main/binary-amd64"
    cp "$pool"/*.deb "$d/pool/main/"
    (cd "$d" && dpkg-scanpackages --multiversion pool /dev/null 2>/dev/null \
        >dists/bookworm/main/binary-amd64/Packages && gzip -9kf dists/bookworm/main/binary-amd64/Packages)
    release "$d/dists/bookworm" "Origin: Debian" "Label: Debian" "Suite: bookworm" "Codename: bookworm" "Components: main"
}

main() {
    local version="${1:?usage: k8s-repos.sh VERSION DIR}" out="${2:?usage: k8s-repos.sh VERSION DIR}"
    command -v gpg >/dev/null || die "gpg is needed (apt-get install gpg)"
    local bin v=${1#v} mm
    bin=$(bash "$HERE/k8s-artifacts.sh" path "$version")
    mm=$(echo "$v" | cut -d. -f1,2)
    [[ -x $bin/kubeadm && -x $bin/containerd && -x $bin/crictl && -e $bin/kube-flannel.yml ]] ||
        die "artifacts of $version missing: bash $HERE/k8s-artifacts.sh $version"
    # The folder's name changes with what the packages hold, so a cache of older ones is not used.
    local debs="$CACHE/debs/$version-$DEBS_LAYOUT"
    build_debs "$bin" "$v" "$debs"
    local gh
    gh=$(mktemp -d)
    export GNUPGHOME=$gh
    gpg --batch --passphrase '' --quick-gen-key "galley test repository <repo@galley.test>" ed25519 sign never 2>/dev/null ||
        die "gpg could not make a signing key"
    local k8s="$out/pkgs.k8s.io/core:/stable:/v$mm/deb"
    mkdir -p "$k8s"
    cp "$debs"/{kubeadm,kubelet,kubectl,kubernetes-cni,cri-tools}_*.deb "$k8s/"
    (cd "$k8s" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages && gzip -9kf Packages)
    release "$k8s" "Origin: obs://build.opensuse.org/isv:kubernetes:core:stable:v$mm/deb" \
        "Label: isv:kubernetes:core:stable:v$mm"
    gpg --armor --export >"$k8s/Release.key"
    local docker="$out/download.docker.com/linux/debian"
    mkdir -p "$docker/pool/stable" "$docker/dists/bookworm/stable/binary-amd64"
    cp "$debs"/containerd.io_*.deb "$docker/pool/stable/"
    # docker-ce and docker-ce-cli where the docker component is built (k8s-artifacts.sh VERSION docker).
    if [[ -x $bin/dockerd ]]; then
        local dv
        dv=$(readlink "$bin/dockerd"); dv=${dv%/dockerd}; dv=${dv##*/docker-}
        build_docker_debs "$bin" "$CACHE/debs/docker-$dv-$DEBS_LAYOUT"
        cp "$CACHE/debs/docker-$dv-$DEBS_LAYOUT"/*.deb "$docker/pool/stable/"
    fi
    (cd "$docker" && dpkg-scanpackages --multiversion pool /dev/null 2>/dev/null \
        >dists/bookworm/stable/binary-amd64/Packages && gzip -9kf dists/bookworm/stable/binary-amd64/Packages)
    release "$docker/dists/bookworm" "Origin: Docker" "Label: Docker CE" "Suite: bookworm" \
        "Codename: bookworm" "Components: stable"
    gpg --armor --export >"$docker/gpg"
    local fv
    fv=$(readlink "$bin/kube-flannel.yml"); fv=${fv##*kube-flannel-}; fv=${fv%.yml}
    local fl="$out/github.com/flannel-io/flannel/releases/download/$fv"
    mkdir -p "$fl"
    # The flannel CNI plugin built here (containernetworking/plugins v0.9.1's, see
    # k8s-artifacts.sh) speaks CNI up to 0.4.0; the manifest's network configuration asks for
    # 1.0.0, which only flannel-io/cni-plugin (not served by the module proxy) implements. That
    # one value is changed; the rest of the manifest is the release's own.
    sed 's/"cniVersion": "1.0.0"/"cniVersion": "0.4.0"/' "$bin/kube-flannel.yml" >"$fl/kube-flannel.yml"
    grep -q '"cniVersion": "0.4.0"' "$fl/kube-flannel.yml" || die "flannel's manifest changed shape: no cniVersion 1.0.0 to change"
    local ev
    ev=$("$bin/etcd" --version | sed -n 's/^etcd Version: //p')
    [[ -n $ev ]] || die "$bin/etcd --version names no version"
    local er="$out/github.com/etcd-io/etcd/releases/download/v$ev" en="etcd-v$ev-linux-amd64"
    local et
    et=$(mktemp -d)
    mkdir -p "$er" "$et/$en"
    cp "$bin"/{etcd,etcdctl,etcdutl} "$et/$en/"
    tar -C "$et" -I "gzip -1" -cf "$er/$en.tar.gz" "$en"
    rm -rf "$et"
    debian_mirror "$out"
    rm -rf "$gh"
}

main "$@"
