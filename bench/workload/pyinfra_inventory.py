"""pyinfra inventory for the benchmark: BENCH_HOSTS aliases of the loopback sshd."""
import os

_state = os.environ["BENCH_STATE"]
_port = int(os.environ["BENCH_PORT"])
hosts = [
    (
        f"n{i}",
        {
            "ssh_hostname": "127.0.0.1",
            "ssh_port": _port,
            "ssh_user": "root",
            "ssh_key": f"{_state}/client_key",
            "ssh_known_hosts_file": f"{_state}/known_hosts",
            "base": f"{_state}/data/pyinfra/n{i}",
        },
    )
    for i in range(1, int(os.environ.get("BENCH_HOSTS", "1")) + 1)
]
