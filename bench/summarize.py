"""Medians of the hyperfine results in bench/results as a Markdown table, with each tool's
ratio to the bare bash floor. Usage: summarize.py RESULTS_DIR "TOOLS" "TARGETS"."""
import json, os, statistics, sys
out, tools, targets = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def median(tool, target, phase):
    p = os.path.join(out, f"{tool}-{target}-{phase}.json")
    if not os.path.exists(p):
        return None
    return statistics.median(json.load(open(p))["results"][0]["times"])
def fmt(seconds):
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
print("| target | run | " + " | ".join(tools) + " |")
print("|---|---|" + "---|" * len(tools))
for target in targets:
    label = "local" if target == "local" else f"{target} SSH host" + ("s" if target != "1" else "")
    for phase in ["first", "rerun"]:
        floor = median("bare", target, phase)
        cells = []
        for tool in tools:
            m = median(tool, target, phase)
            if m is None:
                cells.append("-")
            elif floor and tool != "bare":
                cells.append(f"{fmt(m)} ({m / floor:.1f}x)")
            else:
                cells.append(fmt(m))
        print(f"| {label} | {'first run' if phase == 'first' else 'idempotent re-run'} | " + " | ".join(cells) + " |")
