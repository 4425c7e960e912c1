# galley's remote agent: one per SSH session, runs framed commands read from stdin (docs/ssh.md).
# Frame: "C <nonce> <stdin-length|-1> <command line>\n" then that many stdin bytes.
# Each command runs in its own process group; when it ends, stdout gets "\n<nonce> <rc>\n" and
# stderr "\n<nonce>\n". Control lines: "T" sends SIGTERM to the running command's group, "K"
# sends SIGKILL and answers with "\n<nonce>! 137\n" / "\n<nonce>!\n"; "Z" kills what is left of
# the group after a stopped command ended (children that ignored SIGTERM). End of input (galley exited
# or the connection dropped) kills the running command's group, then the agent exits.
exec 4>&2 2>/dev/null
set -m
_gnl='
'
D=$(mktemp -d "${TMPDIR:-/tmp}/.galley.XXXXXX") || { echo "galley agent: mktemp -d failed" >&4; exit 1; }
J= n=
trap 'rm -rf "$D"' EXIT
sig() { [ -n "$J" ] && kill -"$1" -- -"$J"; }
printf 'galley-agent 1\n'
while IFS= read -r h; do
  case $h in
  T) sig TERM ;;
  Z) sig KILL ;;
  K) sig KILL; wait "$J"; J=; printf '\n%s! 137\n' "$n"; printf '\n%s!\n' "$n" >&4 ;;
  C\ *)
    [ -n "$J" ] && wait "$J"
    h=${h#C }; n=${h%% *}; h=${h#* }; len=${h%% *}; c=${h#* }
    if [ "$len" -ge 0 ]; then head -c "$len" >"$D/in"; i=$D/in; else i=/dev/null; fi
    ( trap : TERM
      ( exec 4>&-; eval "$c" ) <"$i" 2>&4
      r=$?
      [ "$i" = /dev/null ] || : >"$i"
      printf '\n%s %s\n' "$n" "$r"; printf '\n%s\n' "$n" >&4 ) &
    J=$! ;;
  esac
done
sig TERM; w=0
while [ -n "$J" ] && kill -0 -- -"$J" && [ $w -lt 20 ]; do sleep 0.1; w=$((w+1)); done
sig KILL
