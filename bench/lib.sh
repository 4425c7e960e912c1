# Shared by the benchmark scripts: a private state folder and one sshd on a free loopback port
# with a clean login environment (SetEnv SHLVL=1 keeps root's ~/.bashrc setup out of the way),
# plus an ssh_config with aliases n1..n$HOSTS for it (HOSTS, default 8). Sets: state, port,
# sshd_pid. Cleans up on exit. SSHD_WRAP=1: every session's command runs under strace (execve and
# forks of it and its children logged to $state/exec/s.PID), to count remote processes.
state=$(mktemp -d /tmp/galley-bench.XXXXXX)
sshd_pid=
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

# --- one sshd on a free loopback port, clean login environment -------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$state/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$state/client_key"
cp "$state/client_key.pub" "$state/authorized_keys"
mkdir -p /run/sshd
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$state/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $state/host_key
PidFile none
AuthorizedKeysFile $state/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
SetEnv SHLVL=1
MaxSessions 100
MaxStartups 200:30:400
Subsystem sftp internal-sftp
EOF
if [ -n "${SSHD_WRAP:-}" ]; then
  mkdir -p "$state/exec"
  printf '#!/bin/bash\nexec strace -f -qq -e trace=execve,clone,clone3,fork,vfork -e signal=none -o "%s/exec/s.$$" bash -c "$SSH_ORIGINAL_COMMAND"\n' "$state" > "$state/execlog"
  chmod +x "$state/execlog"
  echo "ForceCommand $state/execlog" >> "$state/sshd_config"
fi
/usr/sbin/sshd -D -e -f "$state/sshd_config" 2>"$state/sshd.log" &
sshd_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$state/host_key.pub")" > "$state/known_hosts"
{
  echo "Host $(seq -f 'n%g' -s ' ' "${HOSTS:-8}")"
  echo "  HostName 127.0.0.1"
  echo "  Port $port"
  echo "  User root"
  echo "  IdentityFile $state/client_key"
  echo "  IdentitiesOnly yes"
  echo "  UserKnownHostsFile $state/known_hosts"
  echo "  GlobalKnownHostsFile /dev/null"
  echo "  StrictHostKeyChecking yes"
  echo "  BatchMode yes"
} > "$state/ssh_config"

