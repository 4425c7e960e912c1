# galley's remote agent: one per SSH session, reads requests from stdin (docs/ssh.md).
# Requests, one line each (words quoted for the shell, newlines as "$_gnl"):
#   C <nonce> <stdin-length|-1> <command line>   then that many stdin bytes: run a command in
#       its own process group, in the background, so control lines still get through;
#   S <nonce> <max> <path>                        stat a path (+ content up to <max> bytes);
#   W|B <nonce> <length> <mode> <owner> <group> <path>   then <length> bytes: replace a file
#       atomically (W: text read by the shell itself, B: any bytes);
#   D <nonce> <mode> <owner> <group> <path>       create a folder and its parents.
# S, W, B and D are answered by the agent itself, without starting a shell: probes and small
# writes are most of a run's work. Every answer ends with "\n<nonce> <rc>\n" on stdout and
# "\n<nonce>\n" on stderr. Control lines: "T" sends SIGTERM to the running command's group,
# "K" SIGKILL (answered with "\n<nonce>! 137\n" / "\n<nonce>!\n"), "Z" kills what is left of the
# group after a stopped command ended. End of input (galley exited or the connection dropped)
# kills the running command's group, then the agent exits.
exec 4>&2 2>/dev/null
set -m
_gnl='
'
um=$(umask)
D=$(mktemp -d "${TMPDIR:-/tmp}/.galley.XXXXXX") || { echo "galley agent: mktemp -d failed" >&4; exit 1; }
J= n=
trap 'rm -rf "$D"' EXIT
sig() { [ -n "$J" ] && kill -"$1" -- -"$J"; }
# Requests answered by the agent itself; each sets r to an exit code.
st() { # max path: stat line, then "+" and the content of a small regular file, or "-"
  local LC_ALL=C p=$2 s c
  [ -e "$p" ] || { r=3; return; }
  s=$(stat -L -c '%F|%a|%U|%G|%s' -- "$p" 2>&4) || { r=1; return; }
  printf '%s\n' "$s"; r=0
  if [ -f "$p" ] && [ -r "$p" ] && [ "${s##*|}" -le "$1" ]; then
    IFS= read -r -d '' c <"$p"
    if [ "${#c}" = "${s##*|}" ]; then printf '+\n%s' "$c"; else printf '+\n'; cat -- "$p"; fi
  else printf -- '-\n'; fi
}
wr() { # text|bin len mode owner group path: atomic replace (temp file, sync, rename)
  local LC_ALL=C p=$6 d t c
  if [ "$1" = text ]; then IFS= read -r -N "$2" c; else head -c "$2" >"$D/in"; fi
  r=1
  [ -d "$p" ] && { printf '%s: is a directory\n' "$p" >&4; return; }
  case $p in */*) d=${p%/*}; d=${d:-/} ;; *) d=. ;; esac
  t=$d/.${p##*/}.galley-$$-$RANDOM
  set -C
  if [ "$1" = text ]; then printf '%s' "$c" 2>&4 >"$t"; else cat -- "$D/in" 2>&4 >"$t"; fi
  local w=$?
  set +C
  [ "$w" = 0 ] || return
  if [ -e "$p" ]; then
    chmod --reference="$p" -- "$t" 2>&4 &&
      { { [ -O "$p" ] && [ -G "$p" ]; } || chown --reference="$p" -- "$t" 2>&4; }
  elif [ "$um" != 0022 ]; then chmod 644 -- "$t" 2>&4
  fi &&
    { [ -z "$3" ] || chmod "$3" -- "$t" 2>&4; } &&
    { [ -z "$4" ] || chown "$4" -- "$t" 2>&4; } &&
    { [ -z "$5" ] || chgrp "$5" -- "$t" 2>&4; } &&
    { sync -- "$t" 2>/dev/null; mv -f -- "$t" "$p" 2>&4; } && r=0
  [ "$r" = 0 ] || rm -f -- "$t"
}
mk() { # mode owner group path
  r=1
  mkdir -p -- "$4" 2>&4 &&
    { [ -z "$1" ] || chmod "$1" -- "$4" 2>&4; } &&
    { [ -z "$2" ] || chown "$2" -- "$4" 2>&4; } &&
    { [ -z "$3" ] || chgrp "$3" -- "$4" 2>&4; } && r=0
}
printf 'galley-agent 1\n'
while IFS= read -r h; do
  case $h in
  T) sig TERM ;;
  Z) sig KILL ;;
  K) sig KILL; wait "$J"; J=; printf '\n%s! 137\n' "$n"; printf '\n%s!\n' "$n" >&4 ;;
  [SWBD]\ *)
    [ -n "$J" ] && wait "$J"; J=
    o=${h%% *}; h=${h#* }; n=${h%% *}; eval "set -- ${h#* }"
    case $o in S) st "$@" ;; W) wr text "$@" ;; B) wr bin "$@"; : >"$D/in" ;; D) mk "$@" ;; esac
    printf '\n%s %s\n' "$n" "$r"; printf '\n%s\n' "$n" >&4 ;;
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
