# The floor: the same converge workload as a plain bash script (run locally, or over one ssh
# connection with `ssh HOST bash -s -- BASE < bare.sh`). Checks before it changes, like the tools.
set -e
b=$1
for i in $(seq 0 19); do [ -d "$b/d$i" ] || mkdir -p "$b/d$i"; done
for i in $(seq 0 49); do
  f="$b/d$((i % 20))/f$i.txt"
  if [ ! -f "$f" ] || [ "$(cat "$f")" != "file $i" ]; then printf 'file %s\n' "$i" > "$f"; fi
done
cfg='{"name":"bench","ports":[80,443],"replicas":3,"tags":{"env":"test","tier":"web"}}'
if [ ! -f "$b/config.json" ] || [ "$(cat "$b/config.json")" != "$cfg" ]; then printf '%s' "$cfg" > "$b/config.json"; fi
for i in $(seq 0 19); do [ -e "$b/m$i" ] || touch "$b/m$i"; done
