"""Times several tools' commands in turns (run 1 of each tool, then run 2 of each, ...), so load
from other work on a shared machine falls on all of them alike; hyperfine would run all of one
tool's runs before the next tool's. Writes hyperfine-like JSON (results[0].times) that
summarize.py reads. Usage: interleave.py OUT TARGET PHASE RUNS SPEC, where SPEC is a file of
lines `tool<TAB>prepare command (or empty)<TAB>command`."""
import json, os, subprocess, sys, time

out, target, phase, runs, spec = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
tools = [line.rstrip("\n").split("\t") for line in open(spec) if line.strip()]
times = {tool: [] for tool, _, _ in tools}


def sh(cmd):
    subprocess.run(["bash", "-c", cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


for r in range(runs + (1 if phase == "rerun" else 0)):
    for tool, prepare, cmd in tools:
        if prepare:
            sh(prepare)
        t = time.perf_counter()
        sh(cmd)
        if phase != "rerun" or r > 0:  # the first re-run round is a warm-up
            times[tool].append(time.perf_counter() - t)
for tool, _, cmd in tools:
    with open(os.path.join(out, f"{tool}-{target}-{phase}.json"), "w") as f:
        json.dump({"results": [{"command": cmd, "times": times[tool]}]}, f)
