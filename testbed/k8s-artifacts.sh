#!/usr/bin/env bash
# Builds the real Kubernetes binaries (and the tools a cluster needs) from Go modules, for the
# real-Kubernetes test tier. Nothing here is a stand-in: every binary is compiled from the
# upstream module at the version named, with the version stamped in the way the upstream
# release build stamps it (kubeadm reads its own version to choose the control-plane images).
#
#   bash testbed/k8s-artifacts.sh VERSION [COMPONENT...]   # e.g. v1.37.2; prints the bin dir
#   bash testbed/k8s-artifacts.sh path VERSION             # prints the bin dir, builds nothing
#
# Components: kubernetes (kubeadm kubelet kubectl kube-apiserver kube-controller-manager
# kube-scheduler kube-proxy), etcd (etcd, etcdctl, etcdutl), pause, coredns, cni (bridge, host-local,
# loopback, portmap), crane, registry, containerd (containerd, containerd-shim-runc-v2, ctr, runc),
# flannel (flanneld, and the flannel CNI plugin as flannel-cni), crictl, agnhost (the e2e test
# workload), docker (dockerd, docker-proxy, the docker CLI and Moby's systemd units).
# With none named, all of them are built.
#
# Idempotent and cached per version in $GALLEY_K8S_CACHE (default /var/cache/galley-k8s):
# each component is built into a temporary folder and renamed into place when complete, so an
# interrupted build is never mistaken for a finished one and only the first run pays.
set -euo pipefail

CACHE="${GALLEY_K8S_CACHE:-/var/cache/galley-k8s}"
CNI_VERSION=v1.10.0          # github.com/containernetworking/plugins, newest release
CRANE_VERSION=v0.22.1        # github.com/google/go-containerregistry
REGISTRY_VERSION=v3.1.2      # github.com/distribution/distribution/v3
CONTAINERD_VERSION=v2.4.2    # github.com/containerd/containerd/v2, newest release
RUNC_VERSION=v1.5.2          # github.com/opencontainers/runc, what containerd v2.4.2 pins (script/setup/runc-version)
FLANNEL_VERSION=v0.28.10     # github.com/flannel-io/flannel, the recipes' current flannel
# The flannel CNI plugin's own module (github.com/flannel-io/cni-plugin) is not served by the
# module proxy (403); the same plugin lived in containernetworking/plugins until v0.9.1
# (plugins/meta/flannel), which is: that one is built.
FLANNEL_CNI_VERSION=v0.9.1
# Docker Engine for the docker recipe's real run. Moby's engine module is
# github.com/moby/moby/v2, tagged v2.0.0-beta.N beside Docker's docker-vX.Y.Z tags; the newest
# served, beta.24 (2026-09-15), is the one after Docker 29.8.0 (its releases/versions.yaml: last
# 29.8.0, next 29.8.1). The CLI is github.com/docker/cli at 29.8.0 (CalVer, no go.mod: its
# vendor.mod names the dependency versions, so it is built with vendor.mod as go.mod, as its own
# build does).
MOBY_VERSION=v2.0.0-beta.24
DOCKER_VERSION=29.8.0

die() { echo "k8s-artifacts: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: k8s-artifacts.sh VERSION [COMPONENT...] | path VERSION"
if [ "$1" = path ]; then
    [ $# -eq 2 ] || die "usage: k8s-artifacts.sh path VERSION"
    echo "$CACHE/$2/bin"
    exit 0
fi
VERSION="$1"; shift
[[ "$VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "VERSION must look like v1.37.2, not '$VERSION'"
MINOR="${BASH_REMATCH[1]}"
STAGING="v0.${MINOR}.${BASH_REMATCH[2]}"
# What each minor's kubeadm pins (constants.DefaultEtcdVersion, constants.CoreDNSVersion) and the
# cri-tools release of that minor (pkgs.k8s.io's cri-tools package): a cluster of that minor
# pulls exactly these, and `kubeadm upgrade apply` moves them to the next minor's.
case "$MINOR" in
    37) ETCD_VERSION=v3.7.0; COREDNS_VERSION=v1.14.6; CRICTL_VERSION=v1.37.0 ;;
    36) ETCD_VERSION=v3.6.8; COREDNS_VERSION=v1.14.2; CRICTL_VERSION=v1.36.0 ;;
    *) die "no etcd, CoreDNS and cri-tools versions known for 1.$MINOR (add them beside 1.36 and 1.37)" ;;
esac
command -v go >/dev/null || die "go is not on PATH (Go 1.26 or newer builds Kubernetes 1.37)"

OUT="$CACHE/$VERSION"
BIN="$OUT/bin"
mkdir -p "$BIN" "$CACHE/logs"
export GOFLAGS="-trimpath -mod=mod"
export CGO_ENABLED=0

# One wrapper module that requires k8s.io/kubernetes and points each staging module (which the
# kubernetes module replaces with ./staging, absent from its module zip) at its published
# v0.N.x release.
wrapper() {
    local dir="$CACHE/src/kubernetes-$VERSION"
    if [ ! -f "$dir/.ready" ]; then
        rm -rf "$dir" && mkdir -p "$dir"
        (
            cd "$dir"
            go mod download -json "k8s.io/kubernetes@$VERSION" >download.json
            local kdir
            kdir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' download.json)
            [ -d "$kdir" ] || die "k8s.io/kubernetes@$VERSION did not download"
            {
                echo "module galley.test/k8s-artifacts"
                echo
                sed -n 's/^go \(.*\)$/go \1/p' "$kdir/go.mod"
                echo
                echo "require k8s.io/kubernetes $VERSION"
                echo
                echo "replace ("
                sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*$#\t\1 => \1 '"$STAGING"'#p' "$kdir/go.mod"
                echo ")"
            } >go.mod
            printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kubeadm/app"\n\nfunc main() {}\n' >main.go
            go mod tidy >/dev/null
        )
        touch "$dir/.ready"
    fi
    echo "$dir"
}

ldflags_k8s() {
    local commit=galley-build-from-module
    local date=1970-01-01T00:00:00Z
    local f=""
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        f+=" -X $pkg.gitVersion=$VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$MINOR"
        f+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
    done
    echo "-s -w$f"
}

build_kubernetes() {
    local cmds=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
    local c missing=() pkgs=()
    for c in "${cmds[@]}"; do
        [ -x "$BIN/$c" ] || { missing+=("$c"); pkgs+=("k8s.io/kubernetes/cmd/$c"); }
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local dir tmp
    dir=$(wrapper)
    tmp=$(mktemp -d "$OUT/.build-XXXXXX")
    # One go build for all of them: their shared packages are compiled once, and one binary's
    # link overlaps another's compiling.
    echo "building ${missing[*]} $VERSION" >&2
    (cd "$dir" && go build -ldflags "$(ldflags_k8s)" -o "$tmp/" "${pkgs[@]}")
    for c in "${missing[@]}"; do mv "$tmp/$c" "$BIN/$c"; done
    rmdir "$tmp"
}

# agnhost, Kubernetes' own end-to-end test image (test/images/agnhost of the kubernetes module),
# whose netexec server the tier-4 tests run as a workload: it answers /hostname and, for
# pod-to-pod and Service checks, /dial (it connects to another address and reports the answer).
build_agnhost() {
    [ -x "$BIN/agnhost" ] && return 0
    local dir
    dir=$(wrapper)
    echo "building agnhost $VERSION" >&2
    (cd "$dir" && go build -ldflags "-s -w" -o "$BIN/.agnhost.tmp" k8s.io/kubernetes/test/images/agnhost)
    mv "$BIN/.agnhost.tmp" "$BIN/agnhost"
}

# A wrapper module in DIR that requires MODULE@VERSION, downloaded once (DIR/.ready marks it done).
wrap_module() { # DIR MODULE VERSION
    local dir=$1 module=$2 version=$3
    [ -f "$dir/.ready" ] && return
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && go mod init galley.test/wrap >/dev/null 2>&1 &&
        go mod edit -require="$module@$version" && go mod download "$module@$version")
    touch "$dir/.ready"
}

# Builds one main package of a module at a version into $CACHE/tools/NAME-VERSION (shared by
# every Kubernetes version), then links it into $BIN. `go install pkg@version` refuses modules
# whose go.mod has replace directives (etcd's, flannel's); a wrapper module that requires the
# module ignores them and builds the same code at the published dependency versions.
go_tool() { # NAME MODULE VERSION PACKAGE [TAGS]
    local name=$1 module=$2 version=$3 package=$4 tags=${5:-}
    local shared="$CACHE/tools/$name-$version"
    if [ ! -x "$shared" ]; then
        local dir="$CACHE/src/$(echo "$module@$version" | tr '/' '_')"
        wrap_module "$dir" "$module" "$version"
        echo "building $name $version" >&2
        mkdir -p "$CACHE/tools"
        (cd "$dir" && go build -tags "$tags" -ldflags "-s -w" -o "$shared.tmp" "$package")
        mv "$shared.tmp" "$shared"
    fi
    ln -sf "$shared" "$BIN/$name"
}

# flanneld: its module at the version named, built in a copy whose main.go does not import the
# Tencent Cloud VPC backend: that backend's SDK module (github.com/tencentcloud/tencentcloud-sdk-go
# /tencentcloud/vpc) is not served by the module proxy (403). No other line changes; the vxlan
# backend the manifest uses is flannel's own code.
build_flanneld() {
    local shared="$CACHE/tools/flanneld-$FLANNEL_VERSION"
    if [ ! -x "$shared" ]; then
        local dir="$CACHE/src/flannel-$FLANNEL_VERSION" src
        rm -rf "$dir"
        src=$(go mod download -json "github.com/flannel-io/flannel@$FLANNEL_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
        [ -d "$src" ] || die "github.com/flannel-io/flannel@$FLANNEL_VERSION did not download"
        cp -r "$src" "$dir" && chmod -R u+w "$dir"
        sed -i '\#flannel/pkg/backend/tencentvpc"#d' "$dir/main.go"
        rm -rf "$dir/pkg/backend/tencentvpc"
        echo "building flanneld $FLANNEL_VERSION" >&2
        mkdir -p "$CACHE/tools"
        # Its udp backend is C (cgo), linked statically as upstream's Makefile does.
        (cd "$dir" && go mod tidy >/dev/null 2>&1 && CGO_ENABLED=1 go build -ldflags "-s -w -extldflags -static -X github.com/flannel-io/flannel/pkg/version.Version=$FLANNEL_VERSION" -o "$shared.tmp" .)
        # The image's other binary: the init container that installs the CNI configuration.
        (cd "$dir" && go build -ldflags "-s -w" -o "$CACHE/tools/install-conf-$FLANNEL_VERSION" ./cmd/install_conf)
        cp "$dir/Documentation/kube-flannel.yml" "$CACHE/tools/kube-flannel-$FLANNEL_VERSION.yml"
        mv "$shared.tmp" "$shared"
    fi
    ln -sf "$shared" "$BIN/flanneld"
    ln -sf "$CACHE/tools/install-conf-$FLANNEL_VERSION" "$BIN/install-conf"
    ln -sf "$CACHE/tools/kube-flannel-$FLANNEL_VERSION.yml" "$BIN/kube-flannel.yml"
}

# dockerd and docker-proxy (Moby), the docker CLI, and Moby's own systemd units, into
# $CACHE/tools/docker-$DOCKER_VERSION (shared by every Kubernetes version), linked into $BIN.
# Built static without cgo (upstream's static build uses cgo for journald only) with upstream's
# static build tags; stamped as upstream's make does (hack/make/.go-autogen, cli/version).
build_docker() {
    local shared="$CACHE/tools/docker-$DOCKER_VERSION"
    if [ ! -x "$shared/dockerd" ]; then
        local dir="$CACHE/src/moby-$MOBY_VERSION" cli="$CACHE/src/docker-cli-$DOCKER_VERSION" src
        rm -rf "$shared.tmp" && mkdir -p "$shared.tmp"
        wrap_module "$dir" github.com/moby/moby/v2 "$MOBY_VERSION"
        echo "building dockerd $DOCKER_VERSION (moby $MOBY_VERSION)" >&2
        local x="-X github.com/moby/moby/v2/dockerversion"
        for p in dockerd docker-proxy; do
            (cd "$dir" && go build -tags "netgo osusergo static_build nri_no_wasm" \
                -ldflags "-s -w $x.Version=$DOCKER_VERSION $x.GitCommit=moby-$MOBY_VERSION $x.PlatformName=Docker_Engine_-_Community" \
                -o "$shared.tmp/$p" "github.com/moby/moby/v2/cmd/$p")
        done
        src=$(cd "$dir" && go list -m -f '{{.Dir}}' "github.com/moby/moby/v2")
        cp "$src"/contrib/init/systemd/docker.{service,socket} "$shared.tmp/"
        rm -rf "$cli"
        src=$(go mod download -json "github.com/docker/cli@v$DOCKER_VERSION+incompatible" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
        [ -d "$src" ] || die "github.com/docker/cli@v$DOCKER_VERSION+incompatible did not download"
        cp -r "$src" "$cli" && chmod -R u+w "$cli"
        rm -rf "$cli/vendor" && cp "$cli/vendor.mod" "$cli/go.mod" && cp "$cli/vendor.sum" "$cli/go.sum"
        echo "building docker CLI $DOCKER_VERSION" >&2
        (cd "$cli" && go build -ldflags "-s -w -X github.com/docker/cli/cli/version.Version=$DOCKER_VERSION" \
            -o "$shared.tmp/docker" ./cmd/docker)
        rm -rf "$shared" && mv "$shared.tmp" "$shared"
    fi
    local f
    for f in dockerd docker-proxy docker docker.service docker.socket; do ln -sf "$shared/$f" "$BIN/$f"; done
}

# runc, which Docker's containerd.io bundles: cgo with libseccomp, linked static, with the tags
# of runc's own `make static`. Debian 12's runc (1.1.5) cannot be used: it does not know the time
# namespace Docker 29 asks for ("runc create failed: namespace {"time" ""} does not exist").
build_runc() {
    local shared="$CACHE/tools/runc-$RUNC_VERSION"
    if [ ! -x "$shared" ]; then
        [ -e /usr/include/seccomp.h ] || die "libseccomp-dev is needed to build runc (apt-get install libseccomp-dev)"
        local dir="$CACHE/src/runc-$RUNC_VERSION"
        wrap_module "$dir" github.com/opencontainers/runc "$RUNC_VERSION"
        echo "building runc $RUNC_VERSION" >&2
        mkdir -p "$CACHE/tools"
        (cd "$dir" && CGO_ENABLED=1 go build -tags "seccomp urfave_cli_no_docs netgo osusergo" \
            -ldflags "-s -w -X main.version=${RUNC_VERSION#v} -extldflags -static" \
            -o "$shared.tmp" github.com/opencontainers/runc 2>/dev/null)
        mv "$shared.tmp" "$shared"
    fi
    ln -sf "$shared" "$BIN/runc"
}

build_pause() {
    [ -x "$BIN/pause" ] && return 0
    command -v gcc >/dev/null || die "gcc is needed to build pause (apt-get install gcc libc6-dev)"
    local src
    src="$(go env GOMODCACHE)/k8s.io/kubernetes@$VERSION/build/pause/linux/pause.c"
    [ -f "$src" ] || go mod download "k8s.io/kubernetes@$VERSION"
    gcc -Os -Wall -Werror -static -DVERSION="v$VERSION-galley" -o "$BIN/.pause.tmp" "$src"
    strip "$BIN/.pause.tmp"
    mv "$BIN/.pause.tmp" "$BIN/pause"
}

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kubernetes etcd pause coredns cni crane registry containerd flannel crictl agnhost docker)
for c in "${components[@]}"; do
    case "$c" in
        kubernetes) build_kubernetes ;;
        agnhost) build_agnhost ;;
        etcd)
            go_tool etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
            go_tool etcdctl go.etcd.io/etcd/etcdctl/v3 "$ETCD_VERSION" go.etcd.io/etcd/etcdctl/v3
            go_tool etcdutl go.etcd.io/etcd/etcdutl/v3 "$ETCD_VERSION" go.etcd.io/etcd/etcdutl/v3 ;;
        pause) build_pause ;;
        coredns) go_tool coredns github.com/coredns/coredns "$COREDNS_VERSION" github.com/coredns/coredns ;;
        cni)
            for p in main/bridge ipam/host-local main/loopback meta/portmap; do
                go_tool "${p#*/}" github.com/containernetworking/plugins "$CNI_VERSION" \
                    "github.com/containernetworking/plugins/plugins/$p"
            done ;;
        crane)
            go_tool crane github.com/google/go-containerregistry "$CRANE_VERSION" \
                github.com/google/go-containerregistry/cmd/crane ;;
        registry)
            go_tool registry github.com/distribution/distribution/v3 "$REGISTRY_VERSION" \
                github.com/distribution/distribution/v3/cmd/registry ;;
        containerd)
            for p in containerd containerd-shim-runc-v2 ctr; do
                go_tool "$p" github.com/containerd/containerd/v2 "$CONTAINERD_VERSION" \
                    "github.com/containerd/containerd/v2/cmd/$p" "no_btrfs no_devmapper"
            done
            build_runc ;;
        flannel)
            build_flanneld
            go_tool flannel-cni github.com/containernetworking/plugins "$FLANNEL_CNI_VERSION" \
                github.com/containernetworking/plugins/plugins/meta/flannel ;;
        docker) build_docker ;;
        crictl) go_tool crictl sigs.k8s.io/cri-tools "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl ;;
        *) die "unknown component '$c' (kubernetes etcd pause coredns cni crane registry containerd flannel crictl agnhost docker)" ;;
    esac
done
echo "$BIN"
