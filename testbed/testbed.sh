#!/usr/bin/env bash
# testbed.sh — real Debian 12 hosts for galley's tier-3 tests.
#
# Each node is a Debian 12 system booted with real systemd by `systemd-nspawn -b` from one cached,
# read-only rootfs (writes go to a per-node tmpfs overlay), attached to a private bridge with its
# own static address, sshd, host key, machine-id, MAC and DMI product_uuid. See testbed/README.md.
#
# Usage: testbed.sh deps | rootfs | up N [--dir DIR] [--dup-pair] [--owner-pid PID]
#        | poweroff DIR NODE [--graceful] | down DIR | debrepo DIR | check-clean
#
# No galley dependency: bash, iproute2, systemd-container, debootstrap, openssh-client, dpkg-dev.
set -euo pipefail
shopt -s nullglob
unset BASH_ENV ENV CDPATH
export LC_ALL=C
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
umask 022

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
CACHE="${GALLEY_TESTBED_CACHE:-/var/cache/galley-testbed}"
MIRROR="${GALLEY_TESTBED_MIRROR:-http://deb.debian.org/debian}"
SSH_DEADLINE="${GALLEY_TESTBED_SSH_DEADLINE:-60}"   # seconds for all nodes to answer SSH
MAX_NODES=99
MARK="GALLEY_TESTBED"                                 # marker put on every process we start
# Extra systemd-nspawn arguments for every node (words split on spaces), e.g. the Kubernetes
# tier's `--capability=all --bind=/sys/fs/cgroup:/run/hostcg --bind=/dev/kmsg`.
read -r -a NSPAWN_EXTRA <<<"${GALLEY_TESTBED_NSPAWN_ARGS:-}"
# Paths inside every node kept on this machine's disk, in the instance dir (words split on
# spaces), e.g. the Kubernetes tier's container stores: the node's own root is an overlay on a
# tmpfs, where overlayfs snapshots cannot be made and every image layer would sit in memory.
read -r -a NODE_DISKS <<<"${GALLEY_TESTBED_NODE_DISKS:-}"

die()  { echo "testbed: error: $*" >&2; exit 1; }
log()  { echo "testbed: $*" >&2; }
need_root() { [[ $(id -u) == 0 ]] || die "must run as root (systemd-nspawn, bridges and debootstrap need it)"; }
need_tools() {
    local t missing=()
    for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
    ((${#missing[@]} == 0)) || die "missing tool(s): ${missing[*]} — run: bash $SELF deps"
}

# =====================================================================================
#== ROOTFS RECIPE BEGIN — everything up to the END marker is hashed into the cache name;
#== change anything here and `rootfs` builds a fresh rootfs-<hash>.
SUITE=bookworm
PACKAGES=(systemd systemd-sysv dbus openssh-server iproute2 iputils-ping sudo iptables kmod procps
          ca-certificates)

configure_rootfs() {
    local R="$1"

    # Plain identity: no hostname, no machine-id (nspawn's --uuid is used), no shared host keys.
    rm -f "$R/etc/hostname" "$R/etc/ssh/ssh_host_"*
    : >"$R/etc/machine-id"
    rm -f "$R/var/lib/dbus/machine-id"
    ln -s /etc/machine-id "$R/var/lib/dbus/machine-id"
    printf '# galley testbed: no DNS, nodes are offline\n' >"$R/etc/resolv.conf"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"

    # Apt: only the local file repository bind-mounted at /srv/repo; no network sources.
    rm -f "$R/etc/apt/sources.list" "$R/etc/apt/sources.list.d/"*
    echo 'deb [trusted=yes] file:/srv/repo ./' >"$R/etc/apt/sources.list.d/galley-test.list"
    printf 'Acquire::Languages "none";\nAPT::Install-Recommends "false";\n' \
        >"$R/etc/apt/apt.conf.d/90galley-testbed"
    rm -rf "$R/var/lib/apt/lists/"* "$R/var/cache/apt/"*.bin
    mkdir -p "$R/srv/repo" "$R/etc/galley-testbed"

    # sshd: root by key only, no DNS lookups, ed25519 host key installed per node at boot.
    cat >"$R/etc/ssh/sshd_config.d/galley-testbed.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
EOF

    # Users: deploy (passwordless sudo), nopw (sudo asks for password "nopw-password").
    chroot "$R" useradd -m -s /bin/bash deploy
    chroot "$R" useradd -m -s /bin/bash nopw
    echo 'nopw:nopw-password' | chroot "$R" chpasswd
    cat >"$R/etc/sudoers.d/galley-testbed" <<'EOF'
deploy ALL=(ALL:ALL) NOPASSWD: ALL
nopw ALL=(ALL:ALL) ALL
EOF
    chmod 0440 "$R/etc/sudoers.d/galley-testbed"

    # Placeholder; the seed unit replaces it at boot with the node's own file.
    cat >"$R/etc/systemd/network/80-container-host0.network" <<'EOF'
[Match]
Name=host0
[Network]
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF

    # Per-node seed: /etc/galley-testbed is bind-mounted read-only from the state dir of the
    # instance; this early unit copies it into place before networkd and sshd start.
    cat >"$R/usr/local/sbin/galley-testbed-seed" <<'EOF'
#!/bin/sh
# Installs this node's identity from /etc/galley-testbed (bind-mounted by testbed.sh up).
set -eu
S=/etc/galley-testbed
[ -f "$S/hostname" ] || { echo "galley-testbed-seed: $S/hostname missing" >&2; exit 1; }
install -m 0644 "$S/hostname" /etc/hostname
hostname "$(cat "$S/hostname")"
install -m 0644 "$S/hosts" /etc/hosts
install -m 0644 "$S/host0.network" /etc/systemd/network/80-container-host0.network
install -m 0600 "$S/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 0644 "$S/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
for u in root deploy nopw; do
    home=$(getent passwd "$u" | cut -d: -f6)
    install -d -m 0700 -o "$u" -g "$u" "$home/.ssh"
    install -m 0600 -o "$u" -g "$u" "$S/authorized_keys" "$home/.ssh/authorized_keys"
done
# DMI: a container has no /sys/class/dmi and sysfs cannot be written, so /sys/class becomes a
# tmpfs holding a bind mount of every real class directory plus a made-up dmi/id/.
if [ ! -e /sys/class/dmi/id/product_uuid ]; then
    mkdir -p /run/galley-testbed/sysclass
    mount --bind /sys/class /run/galley-testbed/sysclass
    # Private, or the tmpfs below would propagate onto this helper (and its umount back).
    mount --make-private /run/galley-testbed/sysclass
    mount -t tmpfs -o mode=0755,nosuid,nodev,noexec galley-dmi /sys/class
    for e in /run/galley-testbed/sysclass/*; do
        mkdir "/sys/class/${e##*/}"
        mount --bind "$e" "/sys/class/${e##*/}"
    done
    umount -l /run/galley-testbed/sysclass
    rmdir /run/galley-testbed/sysclass
    mkdir -p /sys/class/dmi/id
    install -m 0400 "$S/product_uuid" /sys/class/dmi/id/product_uuid
    echo "galley-testbed" >/sys/class/dmi/id/product_name
    echo "galley" >/sys/class/dmi/id/sys_vendor
    mount -o remount,ro,bind /sys/class
fi
EOF
    chmod 0755 "$R/usr/local/sbin/galley-testbed-seed"
    cat >"$R/etc/systemd/system/galley-testbed-seed.service" <<'EOF'
[Unit]
Description=Install this galley testbed node's identity
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target systemd-networkd.service ssh.service network-pre.target
Wants=network-pre.target
ConditionPathExists=/etc/galley-testbed/hostname

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/galley-testbed-seed

[Install]
WantedBy=sysinit.target
EOF
    chroot "$R" systemctl enable galley-testbed-seed.service systemd-networkd.service ssh.service
    # Units that cannot work (or only add noise) in a container on this machine.
    chroot "$R" systemctl mask console-getty.service getty@tty1.service e2scrub_reap.service \
        apt-daily.timer apt-daily-upgrade.timer

    chroot "$R" apt-get clean
}
#== ROOTFS RECIPE END
# =====================================================================================

recipe_hash() {
    sed -n '/^#== ROOTFS RECIPE BEGIN/,/^#== ROOTFS RECIPE END/p' "$SELF" | sha256sum | cut -c1-12
}

# Unmounts $1 and everything below it (deepest first); with --inside only what is below it.
# debootstrap leaves /proc etc. mounted in the target when it fails.
umount_below() {
    local d="$1" self=1 m
    [[ ${2:-} == --inside ]] && self=0
    awk -v d="$d" -v self="$self" '(self && $2 == d) || index($2, d "/") == 1 { print $2 }' \
        /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# ------------------------------------------------------------------------------ deps
cmd_deps() {
    need_root
    local want=(debootstrap systemd-container openssh-client dpkg-dev iproute2 util-linux procps)
    local missing=() p
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing: ${missing[*]}"
    local lg; lg=$(mktemp /tmp/galley-testbed-deps.XXXXXX.log)
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$lg" 2>&1; then
        log "apt-get install failed, retrying after apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$lg" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$lg" 2>&1 ||
            die "apt-get install ${missing[*]} failed: see $lg"
    fi
    rm -f "$lg"
}

# ------------------------------------------------------------------------------ rootfs
ROOTFS_TMP=""
rootfs_abort() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $ROOTFS_TMP ]]; then
        umount_below "$ROOTFS_TMP.work"; rm -rf --one-file-system "$ROOTFS_TMP.work"
        umount_below "$ROOTFS_TMP"; rm -rf --one-file-system "$ROOTFS_TMP"
    fi
    exit "$rc"
}

# Removes rootfs-* dirs of older recipes that no running nspawn uses.
prune_rootfs() {
    local keep="$1" old p cmd used
    for old in "$CACHE"/rootfs-*/; do
        old="${old%/}"
        [[ $old == "$keep" ]] && continue
        used=""
        for p in /proc/[0-9]*; do
            cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
            [[ $cmd == *systemd-nspawn*" -D $old "* ]] && { used=1; break; }
        done
        if [[ -z $used ]]; then
            log "removing rootfs of an older recipe: $old"
            rm -rf --one-file-system "$old" "$old.build.log"
        fi
    done
}

# Prints the rootfs path on stdout.
cmd_rootfs() {
    need_root; need_tools debootstrap chroot flock sha256sum
    local hash final
    hash=$(recipe_hash); final="$CACHE/rootfs-$hash"
    if [[ -d $final ]]; then echo "$final"; return 0; fi
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    if [[ -d $final ]]; then exec 9>&-; echo "$final"; return 0; fi
    # Leftovers of interrupted builds are never reused.
    local old
    for old in "$CACHE"/.build-*; do
        log "removing interrupted build $old"
        umount_below "$old"; rm -rf --one-file-system "$old"
    done
    local tmp work lg t0=$SECONDS
    tmp=$(mktemp -d "$CACHE/.build-$hash.XXXXXX")
    chmod 0755 "$tmp"                   # it becomes the nodes' /
    ROOTFS_TMP="$tmp"
    trap 'rootfs_abort' EXIT
    trap 'log "rootfs build interrupted"; exit 130' INT TERM
    # dpkg fsyncs every file: building on a tmpfs and copying the result is about twice as fast.
    work="$tmp.work"
    mkdir -m 0755 "$work"
    if ! mount -t tmpfs -o size=4g,mode=0755 galley-testbed-build "$work" 2>/dev/null; then
        rmdir "$work"; work="$tmp"
    fi
    lg="$CACHE/rootfs-$hash.build.log"
    log "building rootfs $final (debootstrap $SUITE minbase; log: $lg)"
    local inc; inc=$(IFS=,; echo "${PACKAGES[*]}")
    mkdir -p "$CACHE/debs"              # downloaded .debs are kept: a recipe change rebuilds faster
    if ! debootstrap --variant=minbase --include="$inc" --cache-dir="$CACHE/debs" \
        "$SUITE" "$work" "$MIRROR" >"$lg" 2>&1; then
        tail -n 20 "$lg" >&2 || true
        die "debootstrap failed: see $lg"
    fi
    # In the background and waited for, so that `set -e` holds inside configure_rootfs.
    (configure_rootfs "$work") >>"$lg" 2>&1 &
    wait $! || { tail -n 20 "$lg" >&2 || true; die "configuring the rootfs failed: see $lg"; }
    if [[ $work != "$tmp" ]]; then
        umount_below "$work" --inside
        cp -a "$work/." "$tmp/" || die "copying the rootfs from tmpfs to $tmp failed"
        umount "$work"; rmdir "$work"
    fi
    umount_below "$tmp"
    mv -T "$tmp" "$final"
    ROOTFS_TMP=""
    trap - EXIT INT TERM
    prune_rootfs "$final"
    exec 9>&-
    log "rootfs ready in $((SECONDS - t0)) s: $final"
    echo "$final"
}

# ------------------------------------------------------------------------------ debrepo
# build_deb OUTDIR NAME VERSION DEPENDS DESCRIPTION FILESDIR
build_deb() {
    local out="$1" name="$2" ver="$3" dep="$4" desc="$5" src="$6"
    mkdir -p "$src/DEBIAN"
    {
        echo "Package: $name"
        echo "Version: $ver"
        echo "Architecture: all"
        echo "Maintainer: galley testbed <testbed@galley.invalid>"
        [[ -n $dep ]] && echo "Depends: $dep"
        echo "Section: misc"
        echo "Priority: optional"
        echo "Description: $desc"
        echo " Tiny package built by galley's testbed.sh for apt tests."
    } >"$src/DEBIAN/control"
    dpkg-deb --root-owner-group -Zgzip --build "$src" "$out/${name}_${ver}_all.deb" >/dev/null
}

cmd_debrepo() {
    local dir="${1:-}"
    [[ -n $dir ]] || die "usage: testbed.sh debrepo DIR"
    need_tools dpkg-deb dpkg-scanpackages gzip sha256sum
    mkdir -p "$dir/repo"
    local repo work v
    repo=$(readlink -f "$dir/repo")
    work=$(mktemp -d "$dir/.debbuild.XXXXXX")
    # In place (not swapped): running nodes bind-mount this very directory.
    find "$repo" -mindepth 1 -delete

    for v in 1.0-1 2.0-1; do
        local s="$work/galley-hello-$v"
        mkdir -p "$s/usr/share/galley-hello" "$s/usr/bin"
        echo "$v" >"$s/usr/share/galley-hello/VERSION"
        printf '#!/bin/sh\necho "galley-hello %s"\n' "$v" >"$s/usr/bin/galley-hello"
        chmod 0755 "$s/usr/bin/galley-hello"
        local dep=""; [[ $v == 2.0-1 ]] && dep="galley-dep (>= 1.0)"
        build_deb "$repo" galley-hello "$v" "$dep" "galley test package, prints its version" "$s"
    done

    local s="$work/galley-dep"
    mkdir -p "$s/usr/share/galley-dep"
    echo "1.0-1" >"$s/usr/share/galley-dep/VERSION"
    build_deb "$repo" galley-dep 1.0-1 "" "galley test package, dependency of galley-hello 2.0" "$s"

    s="$work/galley-svc"
    mkdir -p "$s/lib/systemd/system"
    cat >"$s/lib/systemd/system/galley-svc.service" <<'EOF'
[Unit]
Description=galley test service (a shell loop)

[Service]
ExecStart=/bin/sh -c 'while :; do sleep 3600; done'

[Install]
WantedBy=multi-user.target
EOF
    build_deb "$repo" galley-svc 1.0-1 "" "galley test package shipping galley-svc.service" "$s"

    (
        cd "$repo"
        dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null
        gzip -9nc Packages >Packages.gz
        {
            echo "Origin: galley-testbed"
            echo "Label: galley-testbed"
            echo "Date: $(date -Ru)"
            echo "Architectures: all amd64"
            echo "Description: galley testbed packages"
            echo "SHA256:"
            local f
            for f in Packages Packages.gz; do
                printf ' %s %s %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
            done
        } >Release
    ) || die "indexing $repo with dpkg-scanpackages failed"
    rm -rf "$work"
    chmod -R a+rX "$repo"
    [[ $(grep -c '^Package:' "$repo/Packages") == 4 ]] || die "debrepo: expected 4 packages in $repo/Packages"
}

# ------------------------------------------------------------------------------ helpers for state
load_instance() {
    local dir="$1"
    [[ -f $dir/instance ]] || return 1
    # shellcheck disable=SC1091
    source "$dir/instance"
}

# Is PID a systemd-nspawn (or watchdog) of instance ID? Guards every kill against PID reuse.
pid_is_ours() {
    local pid="$1" id="$2" cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmd == *"$MARK=$id"* || $cmd == *"_watchdog "*"$id"* ]]
}

# Mount points of the hierarchies systemd uses: cgroup2 (unified) and the v1 name=systemd one.
cgroup_roots() {
    awk '$3 == "cgroup2" || ($3 == "cgroup" && $4 ~ /(^|,)name=systemd(,|$)/) { print $2 }' /proc/self/mounts
}
# The cgroup v1 controller hierarchies (cpu, memory, pids, ...), each as the folder of this
# process's own cgroup in it: where a Kubernetes node's own cgroups go (GALLEY_TESTBED_ALL_CGROUPS),
# so that what its kubelet creates stays below the node and goes with it.
cgroup_controller_bases() {
    local mnt opts c own
    while read -r _ mnt _ opts _; do
        c=""
        for o in ${opts//,/ }; do
            case $o in rw|ro|nosuid|nodev|noexec|relatime|name=*) ;; *) c="${c:+$c,}$o" ;; esac
        done
        [[ -n $c ]] || continue
        own=$(awk -F: -v c="$c" '$2 == c { print $3 }' /proc/self/cgroup)
        echo "$mnt${own%/}"
    done < <(awk '$3 == "cgroup" && $4 !~ /name=systemd/' /proc/self/mounts)
}

# Removes the (empty) cgroups of instance ID: .../galley-testbed/ID in every hierarchy.
# Thaws every frozen cgroup of the instance: a container runc froze (as it does to kill one on
# cgroup v1) keeps its processes in uninterruptible sleep, so SIGKILL cannot end them, the node's
# init cannot finish dying, and its cgroups stay busy.
thaw_cgroups() {
    local id="$1" r f
    for r in $(cgroup_controller_bases); do
        [[ -d $r/galley-testbed/$id ]] || continue
        while IFS= read -r f; do
            echo THAWED >"$f" 2>/dev/null || true
        done < <(find "$r/galley-testbed/$id" -name freezer.state 2>/dev/null)
    done
}

remove_cgroups() {
    local id="$1" r d try
    # What a thawed container still has to do to die takes a moment.
    for try in 1 2 3 4 5 6 7 8 9 10; do
        thaw_cgroups "$id"
        local busy=""
        for r in $(cgroup_roots) $(cgroup_controller_bases); do
            d="$r/galley-testbed/$id"
            [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
            [[ -d $d ]] && busy=1
        done
        [[ -z $busy ]] && break
        sleep 0.5
    done
    for r in $(cgroup_roots) $(cgroup_controller_bases); do
        d="$r/galley-testbed/$id"
        if [[ -d $d ]]; then
            find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
            [[ -d $d ]] && log "warning: cgroup $d is not empty; left in place"
        fi
        rmdir "$r/galley-testbed" 2>/dev/null || true
    done
}

# Fields of /proc/PID/stat after the "(comm)" field (which may contain spaces): $1 = state,
# $20 = starttime.
proc_stat_field() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk -v f="$2" '{print $f}'; }

children_of() { pgrep -P "$1" 2>/dev/null || true; }

# Waits until PID is gone; returns 1 after TIMEOUT seconds.
wait_gone() {
    local pid="$1" timeout="$2" i
    for ((i = 0; i < timeout * 10; i++)); do
        [[ -e /proc/$pid ]] || return 0
        # A zombie child of ours also counts as gone.
        [[ $(proc_stat_field "$pid" 1) == Z ]] && return 0
        sleep 0.1
    done
    [[ ! -e /proc/$pid ]]
}

# Hard power-off of one nspawn: SIGKILL the container's init (that kills its whole PID namespace),
# then nspawn notices, removes its veth and exits; SIGKILL it too if it dawdles.
kill_node_pid() {
    local pid="$1" id="$2" graceful="${3:-}" c
    pid_is_ours "$pid" "$id" || return 0
    if [[ -n $graceful ]]; then
        kill -TERM "$pid" 2>/dev/null || true        # nspawn asks the container to power off
        wait_gone "$pid" 30 && return 0
        log "graceful poweroff of nspawn $pid timed out, killing it"
    fi
    for c in $(children_of "$pid"); do kill -KILL "$c" 2>/dev/null || true; done
    wait_gone "$pid" 10 && return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || log "warning: nspawn $pid did not exit"
}

# ------------------------------------------------------------------------------ down
cmd_down() {
    local dir="${1:-}"
    [[ -n $dir ]] || die "usage: testbed.sh down DIR"
    need_root
    [[ -d $dir ]] || { log "down: $dir does not exist (already down)"; return 0; }
    dir=$(readlink -f "$dir")
    if [[ ! -f $dir/instance ]]; then
        # Not (or no longer) a testbed dir: never rm -rf something we did not create.
        log "down: $dir has no instance file (already down or not a testbed dir)"; return 0
    fi
    { exec 8>>"$dir/.lock"; } 2>/dev/null || { log "down: $dir vanished (already down)"; return 0; }
    flock 8
    load_instance "$dir" || { exec 8>&-; log "down: $dir already down"; return 0; }
    local t0=$SECONDS pid

    # The watchdog first (unless we are it), so it does not race us.
    if [[ -z ${GALLEY_TESTBED_IN_WATCHDOG:-} && -f $dir/watchdog.pid ]]; then
        pid=$(cat "$dir/watchdog.pid")
        if pid_is_ours "$pid" "$TB_ID"; then
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    fi

    # Containers: kill all, then wait for all (thawed first, or a frozen one never dies).
    thaw_cgroups "$TB_ID"
    local pids=()
    [[ -f $dir/pids ]] && mapfile -t pids <"$dir/pids"
    for pid in "${pids[@]}"; do
        pid_is_ours "$pid" "$TB_ID" || continue
        local c
        for c in $(children_of "$pid"); do kill -KILL "$c" 2>/dev/null || true; done
    done
    for pid in "${pids[@]}"; do kill_node_pid "$pid" "$TB_ID"; done

    # Network: veths nspawn did not get to remove, then the bridge.
    local l
    for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
        [[ $l == vb-node*-"$TB_ID" ]] && ip link del "$l" 2>/dev/null || true
    done
    remove_cgroups "$TB_ID"
    if ip link show "$TB_BRIDGE" >/dev/null 2>&1; then
        ip link del "$TB_BRIDGE" || log "warning: could not delete bridge $TB_BRIDGE"
    fi

    rm -f "$dir/instance"
    rm -rf --one-file-system "$dir"
    exec 8>&-
    log "down: instance $TB_ID torn down in $((SECONDS - t0)) s"
}

# ------------------------------------------------------------------------------ poweroff
# Default: the node's link goes dead, then its whole PID namespace is SIGKILLed (a host that
# dies). --graceful: nspawn gets SIGTERM and the node shuts down cleanly (`systemctl poweroff`).
cmd_poweroff() {
    local dir="${1:-}" node="${2:-}" graceful=""
    [[ -n $dir && -n $node ]] || die "usage: testbed.sh poweroff DIR NODE [--graceful]"
    [[ ${3:-} == --graceful ]] && graceful=1
    need_root
    load_instance "$dir" || die "poweroff: $dir is not a running testbed (no instance file)"
    local line name pid
    line=$(awk -F'\t' -v n="$node" '$1 == n' "$dir/nodes.tsv" 2>/dev/null || true)
    [[ -n $line ]] || die "poweroff: no node named '$node' in $dir/nodes.tsv"
    name=$(cut -f1 <<<"$line"); pid=$(cut -f5 <<<"$line")
    pid_is_ours "$pid" "$TB_ID" || { log "poweroff: $name is already off"; return 0; }
    if [[ -z $graceful ]]; then
        # Like pulling the power cord: the link goes silent first, so open connections get no
        # FIN/RST from the dying kernel stack and clients only notice by their own timeouts.
        ip link set dev "vb-$name-$TB_ID" down 2>/dev/null || true
    fi
    kill_node_pid "$pid" "$TB_ID" "$graceful"
    # Forget its neighbour entry so the next connect does fresh ARP and fails fast.
    local addr; addr=$(cut -f2 <<<"$line")
    ip neigh del "$addr" dev "$TB_BRIDGE" 2>/dev/null || true
    touch "$dir/$name.off"
    log "poweroff: $name (nspawn $pid) is off"
}

# ------------------------------------------------------------------------------ watchdog
# _watchdog DIR OWNER_PID OWNER_STARTTIME ID — runs `down DIR` once the owner process is gone.
cmd__watchdog() {
    local dir="$1" owner="$2" start="$3" _id="$4" now
    # Killed (the test runner's process group ending, Ctrl-C): tear down rather than leave nodes.
    trap 'GALLEY_TESTBED_IN_WATCHDOG=1 cmd_down "$dir"; exit 0' TERM INT HUP
    while :; do
        [[ -f $dir/instance ]] || exit 0
        now=$(proc_stat_field "$owner" 20)
        if [[ $now != "$start" ]]; then
            log "watchdog: owner process $owner is gone, tearing down $dir"
            GALLEY_TESTBED_IN_WATCHDOG=1 cmd_down "$dir"
            exit 0
        fi
        sleep 1 &
        wait $! || true
    done
}

# ------------------------------------------------------------------------------ up
pick_subnet() {
    # X in 20..249 from the instance id; skip any 10.213.X.0/24 already on an interface.
    local id="$1" x i used
    used=$(ip -o -4 addr show 2>/dev/null | awk '{print $4}' | awk -F. '$1=="10" && $2=="213" {print $3}')
    x=$(( 16#$id % 230 + 20 ))
    for ((i = 0; i < 230; i++)); do
        grep -qx "$x" <<<"$used" || { echo "$x"; return 0; }
        x=$(( (x - 20 + 1) % 230 + 20 ))
    done
    return 1
}

UP_DIR=""
up_failed() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n ${GALLEY_TESTBED_KEEP_FAILED:-} && -n $UP_DIR ]]; then
        log "up failed (exit $rc); GALLEY_TESTBED_KEEP_FAILED is set, so $UP_DIR is left up: testbed.sh down $UP_DIR"
    elif [[ -n $UP_DIR && -f $UP_DIR/instance ]]; then
        log "up failed (exit $rc); tearing the instance down"
        cmd_down "$UP_DIR" || true
    fi
    exit "$rc"
}

cmd_up() {
    local n="" dir="" dup="" owner=""
    while (($#)); do
        case "$1" in
            --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
            --dir=*) dir="${1#--dir=}"; shift ;;
            --dup-pair) dup=1; shift ;;
            --owner-pid) owner="${2:?--owner-pid needs a value}"; shift 2 ;;
            --owner-pid=*) owner="${1#--owner-pid=}"; shift ;;
            -*) die "up: unknown option $1" ;;
            *) [[ -z $n ]] || die "up: unexpected argument $1"; n="$1"; shift ;;
        esac
    done
    [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= MAX_NODES)) || die "usage: testbed.sh up N [--dir DIR] [--dup-pair] [--owner-pid PID] (1 <= N <= $MAX_NODES)"
    [[ -z $dup ]] || ((n >= 2)) || die "up: --dup-pair needs at least 2 nodes"
    local owner_start=""
    if [[ -n $owner ]]; then
        owner_start=$(proc_stat_field "$owner" 20)
        [[ -n $owner_start ]] || die "up: --owner-pid $owner is not a running process"
    fi
    need_root
    need_tools systemd-nspawn ssh ssh-keygen ip pgrep setsid flock dpkg-deb dpkg-scanpackages

    local rootfs; rootfs=$(cmd_rootfs)

    if [[ -z $dir ]]; then
        dir=$(mktemp -d /tmp/galley-testbed.XXXXXX)
    else
        mkdir -p "$dir"
        [[ -z $(ls -A "$dir") ]] || die "up: --dir $dir is not empty"
    fi
    dir=$(readlink -f "$dir"); chmod 0755 "$dir"

    local id br x i
    # Instance id, bridge and subnet are picked and the bridge created under one lock, so
    # parallel `up`s never pick the same ones.
    mkdir -p "$CACHE"
    exec 7>"$CACHE/.net.lock"
    flock 7
    for i in 1 2 3 4 5 6 7 8; do
        id=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
        br="gtb$id"
        ip link show "$br" >/dev/null 2>&1 || break
    done
    x=$(pick_subnet "$id") || die "up: no free 10.213.X.0/24 subnet"

    UP_DIR="$dir"
    trap 'log "up interrupted"; exit 130' INT TERM
    trap 'rc=$?; ((rc == 0)) || up_failed' EXIT
    cat >"$dir/instance" <<EOF
TB_ID=$id
TB_BRIDGE=$br
TB_NET=10.213.$x
TB_N=$n
TB_ROOTFS=$rootfs
TB_DUP_PAIR=${dup:-0}
TB_OWNER=${owner}
EOF
    : >"$dir/pids"
    ip link add name "$br" type bridge
    ip addr add "10.213.$x.1/24" dev "$br"
    ip link set "$br" up
    exec 7>&-
    local t0=$SECONDS

    ssh-keygen -q -t ed25519 -N '' -C "galley-testbed-$id" -f "$dir/id_ed25519"
    cmd_debrepo "$dir"

    # Shared: hosts file, authorized_keys. Per node: seed dir.
    {
        printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
        for ((i = 1; i <= n; i++)); do printf '10.213.%s.%s\tnode%s\n' "$x" $((10 + i)) "$i"; done
    } >"$dir/hosts"
    local dup_mac="" dup_uuid=""
    if [[ -n $dup ]]; then
        dup_mac="02:67:74:${id:0:2}:${id:2:2}:01"
        dup_uuid=$(tr 'a-f' 'A-F' </proc/sys/kernel/random/uuid)
    fi
    : >"$dir/known_hosts"
    : >"$dir/ssh_config"
    for ((i = 1; i <= n; i++)); do
        local nd="$dir/node$i" s="$dir/node$i/seed" addr="10.213.$x.$((10 + i))"
        mkdir -p "$s"
        echo "node$i" >"$s/hostname"
        cp "$dir/hosts" "$s/hosts"
        cp "$dir/id_ed25519.pub" "$s/authorized_keys"
        ssh-keygen -q -t ed25519 -N '' -C "node$i" -f "$s/ssh_host_ed25519_key"
        echo "node$i,$addr $(cut -d' ' -f1,2 "$s/ssh_host_ed25519_key.pub")" >>"$dir/known_hosts"
        if [[ -n $dup ]] && ((i <= 2)); then
            echo "$dup_uuid" >"$s/product_uuid"
        else
            tr 'a-f' 'A-F' </proc/sys/kernel/random/uuid >"$s/product_uuid"
        fi
        {
            echo "[Match]"
            echo "Name=host0"
            if [[ -n $dup ]] && ((i <= 2)); then
                echo "[Link]"
                echo "MACAddress=$dup_mac"
            fi
            echo "[Network]"
            echo "Address=$addr/24"
            echo "LinkLocalAddressing=no"
            echo "IPv6AcceptRA=no"
        } >"$s/host0.network"
        cat /proc/sys/kernel/random/uuid >"$nd/machine_uuid"
        cat >>"$dir/ssh_config" <<EOF
Host node$i
    HostName $addr
    User root
    IdentityFile $dir/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $dir/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    ServerAliveInterval 2
    ServerAliveCountMax 3
    ControlMaster no
    ControlPath none
    LogLevel ERROR

EOF
    done
    chmod 0600 "$dir/id_ed25519"

    # Each nspawn gets its own cgroup in every hierarchy systemd uses. Without that, all nspawns
    # started from one cgroup put their containers in the same ".../payload" cgroup, and the
    # systemds inside then create and remove each other's unit cgroups (spurious 219/CGROUP
    # failures, and a unit stopped on one node could touch the same unit on another).
    local cgs=() r
    for r in $(cgroup_roots); do cgs+=("$r/galley-testbed/$id"); done
    if [[ -n ${GALLEY_TESTBED_ALL_CGROUPS:-} ]]; then
        for r in $(cgroup_controller_bases); do cgs+=("$r/galley-testbed/$id"); done
    fi
    for ((i = 1; i <= n; i++)); do
        local m="node$i-$id" disks=() p
        for p in "${NODE_DISKS[@]}"; do
            mkdir -p "$dir/node$i/disk$p"
            disks+=("--bind=$dir/node$i/disk$p:$p")
        done
        (
            for r in "${cgs[@]}"; do
                mkdir -p "$r/node$i"
                # A new cpuset cgroup has no CPUs or memory nodes until given its parent's.
                if [[ -f $r/node$i/cpuset.cpus ]]; then
                    local d p
                    for d in "${r%/galley-testbed/*}/galley-testbed" "$r" "$r/node$i"; do
                        p=${d%/*}
                        [[ -s $d/cpuset.cpus ]] || cat "$p/cpuset.cpus" >"$d/cpuset.cpus"
                        [[ -s $d/cpuset.mems ]] || cat "$p/cpuset.mems" >"$d/cpuset.mems"
                    done
                fi
                echo "$BASHPID" >"$r/node$i/cgroup.procs"
            done
            exec setsid systemd-nspawn -b --register=no --keep-unit --volatile=overlay \
                --resolv-conf=off --timezone=off --link-journal=no --console=read-only \
                -D "$rootfs" -M "$m" --hostname="node$i" --uuid="$(cat "$dir/node$i/machine_uuid")" \
                --network-bridge="$br" \
                --bind-ro="$dir/repo:/srv/repo" --bind-ro="$dir/node$i/seed:/etc/galley-testbed" \
                --setenv="$MARK=$id" "${NSPAWN_EXTRA[@]}" "${disks[@]}"
        ) </dev/null >"$dir/node$i.log" 2>&1 &
        echo $! >>"$dir/pids"
    done

    if [[ -n $owner ]]; then
        setsid bash "$SELF" _watchdog "$dir" "$owner" "$owner_start" "$id" \
            </dev/null >>"$dir/watchdog.log" 2>&1 &
        echo $! >"$dir/watchdog.pid"
    fi

    # Duplicate MACs on one bridge: turn off learning on both ports, so the bridge floods frames
    # for that MAC to both and each node keeps only packets addressed to its own IP.
    if [[ -n $dup ]]; then
        local p deadline=$((SECONDS + 10))
        for p in "vb-node1-$id" "vb-node2-$id"; do
            until ip link show "$p" >/dev/null 2>&1; do
                ((SECONDS < deadline)) || die "up: veth $p did not appear"
                sleep 0.05
            done
            ip link set dev "$p" type bridge_slave learning off
            ip link set dev "$p" type bridge_slave fdb_flush 2>/dev/null || true
        done
    fi

    # Wait for SSH on every node.
    local deadline=$((SECONDS + SSH_DEADLINE)) pids=()
    mapfile -t pids <"$dir/pids"
    for ((i = 1; i <= n; i++)); do
        until ssh -F "$dir/ssh_config" -o ConnectTimeout=2 "node$i" true </dev/null >/dev/null 2>"$dir/node$i.ssh-err"; do
            if ! pid_is_ours "${pids[i - 1]}" "$id"; then
                echo "---- node$i console (tail) ----" >&2; tail -n 40 "$dir/node$i.log" >&2 || true
                die "up: node$i (nspawn ${pids[i - 1]}) exited while booting; console log: $dir/node$i.log"
            fi
            if ((SECONDS >= deadline)); then
                echo "---- node$i console (tail) ----" >&2; tail -n 40 "$dir/node$i.log" >&2 || true
                echo "---- last ssh error ----" >&2; cat "$dir/node$i.ssh-err" >&2 || true
                die "up: node$i did not answer SSH within ${SSH_DEADLINE} s"
            fi
            sleep 0.2
        done
        rm -f "$dir/node$i.ssh-err"
    done

    # Record what each node really sees.
    : >"$dir/nodes.tsv.tmp"
    for ((i = 1; i <= n; i++)); do
        local facts mac uuid
        facts=$(ssh -F "$dir/ssh_config" "node$i" \
            'cat /sys/class/net/host0/address /sys/class/dmi/id/product_uuid' </dev/null) ||
            die "up: could not read MAC/product_uuid of node$i"
        mac=$(sed -n 1p <<<"$facts"); uuid=$(sed -n 2p <<<"$facts")
        [[ -n $mac && -n $uuid ]] || die "up: empty MAC/product_uuid from node$i: $facts"
        printf 'node%s\t10.213.%s.%s\t%s\t%s\t%s\n' "$i" "$x" $((10 + i)) "$mac" "$uuid" "${pids[i - 1]}" \
            >>"$dir/nodes.tsv.tmp"
    done
    mv "$dir/nodes.tsv.tmp" "$dir/nodes.tsv"

    trap - EXIT INT TERM
    log "up: $n node(s) on $br (10.213.$x.0/24) in $((SECONDS - t0)) s; state: $dir"
    echo "$dir"
}

# ------------------------------------------------------------------------------ check-clean
cmd_check_clean() {
    local left=() l p cmd
    for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
        case "$l" in gtb*) left+=("bridge $l") ;; vb-*) left+=("veth $l") ;; esac
    done
    for l in $(cgroup_roots) $(cgroup_controller_bases); do
        for p in "$l"/galley-testbed/*/; do left+=("cgroup ${p%/}"); done
    done
    for l in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        case "$l" in gtb* | galley*) left+=("netns $l") ;; esac
    done
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        case "$cmd" in
            *systemd-nspawn*"$MARK="*) left+=("process ${p#/proc/}: $cmd") ;;
            *testbed.sh\ _watchdog\ *) left+=("watchdog ${p#/proc/}: $cmd") ;;
        esac
    done
    if ((${#left[@]})); then
        echo "testbed: not clean:" >&2
        printf '  %s\n' "${left[@]}" >&2
        return 1
    fi
    echo "testbed: clean"
}

# ------------------------------------------------------------------------------ main
main() {
    local cmd="${1:-}"; shift || true
    case "$cmd" in
        deps) cmd_deps "$@" ;;
        rootfs) cmd_rootfs "$@" ;;
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        poweroff) cmd_poweroff "$@" ;;
        debrepo) cmd_debrepo "$@" ;;
        check-clean) cmd_check_clean "$@" ;;
        _watchdog) cmd__watchdog "$@" ;;
        -h | --help | help | "")
            sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//'
            [[ -n $cmd ]] || exit 2 ;;
        *) die "unknown subcommand '$cmd' (try --help)" ;;
    esac
}
main "$@"
