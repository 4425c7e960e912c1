"""Benchmark workload for pyinfra: the same converge as converge.rhai (20 directories, 50 small
files, a JSON config file, 20 guarded commands). The base folder is the host data `base`."""
import json
from io import StringIO

from pyinfra import host
from pyinfra.operations import files, server

base = host.data.get("base")

for i in range(20):
    files.directory(name=f"dir d{i}", path=f"{base}/d{i}")

for i in range(50):
    files.put(name=f"file f{i}", src=StringIO(f"file {i}\n"), dest=f"{base}/d{i % 20}/f{i}.txt")

config = {"name": "bench", "ports": [80, 443], "replicas": 3, "tags": {"env": "test", "tier": "web"}}
files.put(name="config", src=StringIO(json.dumps(config, sort_keys=True, separators=(",", ":"))), dest=f"{base}/config.json")

for i in range(20):
    server.shell(name=f"guarded m{i}", commands=[f"test -e {base}/m{i} || touch {base}/m{i}"])
