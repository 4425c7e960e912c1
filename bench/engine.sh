#!/usr/bin/env bash
# Startup and engine overhead: `galley --version`, `galley list`, and 1,000 `run(["true"])`
# against a bash loop of 1,000 `/bin/true`. Uses hyperfine (installed if missing).
# Usage: bash bench/engine.sh   (figures go to docs/benchmarks.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --quiet
G=$PWD/target/release/galley
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo 'for i in 0..1000 { run(["true"]); }' > "$work/thousand.rhai"
cat > "$work/thousand.sh" <<'SH'
for i in $(seq 1000); do /bin/true; done
SH
hyperfine -N --warmup 3 --runs 30 "$G --version" "$G list" --export-markdown "$work/startup.md"
hyperfine --warmup 2 --runs 10 \
    -n "bash loop, 1000 x /bin/true" "bash $work/thousand.sh" \
    -n "galley, 1000 x run([\"true\"])" "$G run $work/thousand.rhai --output json" \
    --export-markdown "$work/thousand.md"
cat "$work/startup.md" "$work/thousand.md"
/usr/bin/time -f "peak RSS of galley running 1000 commands: %M KiB" "$G" run "$work/thousand.rhai" --output json >/dev/null
