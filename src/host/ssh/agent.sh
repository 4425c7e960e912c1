# galley's remote agent: one per SSH session, reads requests from stdin (docs/ssh.md).
# Requests, one line each (words quoted for the shell, newlines as "$_gnl"):
#   C <nonce> <stdin-length|-1> <command line>   then that many stdin bytes: run a command in
#       its own process group, in the background, so control lines still get through;
#   S <nonce> <max> <path>                        stat a path (+ content up to <max> bytes);
#   R <nonce> <max> <path>                        the whole content of a file, or exit 4 when it
#       is over <max> bytes;
#   W|B <nonce> <length> <mode> <owner> <group> <path>   then <length> bytes and a line with their
#       sha256: replace a file atomically, only when all bytes came and the sum matches (W: text
#       read by the shell itself, B: any bytes);
#   D <nonce> <mode> <owner> <group> <path>       create a folder and its parents.
# S, R, W, B and D are answered by the agent itself, without starting a shell: probes and small
# writes are most of a run's work. A probe (S, and R of a small file) starts no process at all:
# existence, type and content come from shell builtins, and the stat(2) fields (mode, owner,
# group, size) from one helper per session (perl, started on the first probe, fed paths over a
# pipe); without perl, a probe costs one `stat` process. Every answer ends with "\n<nonce> <rc>\n" on stdout and
# "\n<nonce>\n" on stderr. Control lines: "T" sends SIGTERM to the running command's group,
# "K" SIGKILL (answered with "\n<nonce>! 137\n" / "\n<nonce>!\n"), "Z" kills what is left of the
# group after a stopped command ended. End of input (galley exited or the connection dropped)
# kills the running command's group, then the agent exits.
exec 4>&2 2>/dev/null
set -m
_gnl='
'
um=$(umask)
# D (the folder for commands' stdin) is made on first use; H: the stat helper ('' untried, 0 none).
D= J= n= T= H=
trap '[ -z "$D" ] || rm -rf -- "$D"; [ -z "$T" ] || rm -f -- "$T"' EXIT
sig() { [ -n "$J" ] && kill -"$1" -- -"$J"; }
# The stat helper reads NUL-terminated paths and answers each with one line, as
# `stat -L -c '%F|%a|%U|%G|%s'` prints it, or "!" and the error. It ends with its input (the agent).
hp='$|=1; $/="\0";
while (defined(my $p = <STDIN>)) {
  chop $p;
  my @s = stat $p;
  if (!@s) { print "!$!\n"; next }
  my $t = -d _ ? "directory" : -f _ ? ($s[7] ? "regular file" : "regular empty file")
    : -p _ ? "fifo" : -S _ ? "socket" : -c _ ? "character special file"
    : -b _ ? "block special file" : "weird file";
  my $u = getpwuid $s[4]; my $g = getgrgid $s[5];
  printf "%s|%o|%s|%s|%d\n", $t, $s[2] & 07777, $u // "UNKNOWN", $g // "UNKNOWN", $s[7];
}'
fs() { # path: s = its stat line; fails with stat's message
  if [ -z "$H" ]; then
    H=0
    if [ -z "${GALLEY_AGENT_NO_HELPER:-}" ] && command -v perl >/dev/null; then
      coproc GH { exec perl -e "$hp"; }
      H=1
    fi
  fi
  # A helper that died (killed from outside) is not written to (that would end the agent).
  if [ "$H" = 1 ] && [ -n "${GH_PID:-}" ] && kill -0 "$GH_PID" && printf '%s\0' "$1" >&"${GH[1]}" &&
    IFS= read -r s <&"${GH[0]}"; then
    case $s in '!'*) printf 'stat: cannot statx %s: %s\n' "'$1'" "${s#!}" >&4; return 1 ;; esac
    return 0
  fi
  H=0
  s=$(stat -L -c '%F|%a|%U|%G|%s' -- "$1" 2>&4)
}
# Requests answered by the agent itself; each sets r to an exit code.
st() { # max path: stat line, then "+" and the content of a small regular file, or "-"
  local LC_ALL=C p=$2 s c
  [ -e "$p" ] || { r=3; return; }
  fs "$p" || { r=1; return; }
  printf '%s\n' "$s"; r=0
  if [ -f "$p" ] && [ -r "$p" ] && [ "${s##*|}" -le "$1" ]; then
    # The shell's read stops at a NUL byte: content of another length is sent by cat.
    IFS= read -r -d '' c <"$p"
    if [ "${#c}" = "${s##*|}" ]; then printf '+\n%s' "$c"; else printf '+\n'; cat -- "$p"; fi
  else printf -- '-\n'; fi
}
gc() { # dir name: remove temp files of galley's naming whose writer (a pid) is gone
  local f k
  [ -e /proc/$$ ] || return 0
  for f in "$1/.$2.galley-"*; do
    k=${f#"$1/.$2.galley-"}; k=${k%%-*}
    case $k in '' | *[!0-9]*) ;; *) [ -e "/proc/$k" ] || rm -f -- "$f" ;; esac
  done
}
wr() { # text|bin len mode owner group path, then <len> bytes and a "<sha256>" line
  local LC_ALL=C p=$6 d f t c k s
  r=1
  case $p in */*) d=${p%/*}; d=${d:-/} ;; *) d=. ;; esac
  f=${p##*/} t=/dev/null
  if [ -d "$p" ]; then printf '%s: is a directory\n' "$p" >&4
  elif [ -d "$d" ]; then
    gc "$d" "$f"
    # Created private (umask 077): a partial copy of a secret is never readable by others.
    T=$d/.$f.galley-$$-$RANDOM; umask 077; set -C
    : 2>&4 >"$T" && t=$T
    set +C; umask "$um"
  else printf '%s: no such directory\n' "$d" >&4
  fi
  # The payload is read in full even when it has nowhere to go (no folder, a full disk), so
  # none of it is ever taken for a request: the second cat drains what the first could not write.
  if [ "$1" = text ]; then IFS= read -r -N "$2" c; printf '%s' "$c" 2>&4 >>"$t"
  else head -c "$2" | { cat 2>&4 >>"$t"; cat >/dev/null; }; fi
  IFS= read -r k || k=
  [ "$t" = /dev/null ] && { T=; return; }
  # Renamed only when whole: the length and the checksum sent after the payload both match.
  s=$(stat -c %s -- "$t" 2>&4 && sha256sum <"$t" 2>&4)
  if [ -z "$k" ]; then printf '%s: the transfer was cut off after %s of %s bytes\n' "$p" "${s%%"$_gnl"*}" "$2" >&4
  elif [ "${s%%"$_gnl"*}" != "$2" ]; then
    printf '%s: only %s of %s bytes could be written; the file was not changed\n' "$p" "${s%%"$_gnl"*}" "$2" >&4
  elif [ "$s" != "$2$_gnl$k  -" ]; then
    printf '%s: the content written differs from the checksum sent; the file was not changed\n' "$p" >&4
  elif if [ -n "$3" ]; then chmod "$3" -- "$t" 2>&4
    elif [ -e "$p" ]; then chmod --reference="$p" -- "$t" 2>&4
    else chmod 644 -- "$t" 2>&4; fi &&
    { [ ! -e "$p" ] || { [ -O "$p" ] && [ -G "$p" ]; } || chown --reference="$p" -- "$t" 2>&4; } &&
    { [ -z "$4" ] || chown "$4" -- "$t" 2>&4; } &&
    { [ -z "$5" ] || chgrp "$5" -- "$t" 2>&4; } &&
    sync -- "$t" 2>&4 && mv -f -- "$t" "$p" 2>&4; then r=0
  fi
  [ "$r" = 0 ] || rm -f -- "$t"
  T=
}
rd() { # max path: a whole regular file, or refused when over max bytes (never cut)
  local LC_ALL=C s c
  [ -e "$2" ] || { r=3; return; }
  fs "$2" || return
  # A FIFO or a device would block `cat` (and the run) until someone writes to it.
  [ -f "$2" ] || { printf '%s: it is a %s, not a regular file (reading it could block forever)\n' "$2" "${s%%|*}" >&4; r=5; return; }
  s=${s##*|}
  if [ "$s" -gt "$1" ]; then printf '%s is %s bytes, over the limit of %s\n' "$2" "$s" "$1" >&4; r=4
  elif [ "$s" -le 262144 ] && { IFS= read -r -d '' c <"$2"; [ "${#c}" = "$s" ]; }; then printf '%s' "$c"; r=0
  else cat -- "$2" 2>&4 && r=0; fi
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
  [SRWBD]\ *)
    [ -n "$J" ] && wait "$J"; J=
    o=${h%% *}; h=${h#* }; n=${h%% *}; eval "set -- ${h#* }"
    r=1
    case $o in S) st "$@" ;; R) rd "$@" ;; W) wr text "$@" ;; B) wr bin "$@" ;; D) mk "$@" ;; esac
    printf '\n%s %s\n' "$n" "$r"; printf '\n%s\n' "$n" >&4 ;;
  C\ *)
    [ -n "$J" ] && wait "$J"
    h=${h#C }; n=${h%% *}; h=${h#* }; len=${h%% *}; c=${h#* }
    [ "$len" -lt 0 ] || [ -n "$D" ] || D=$(mktemp -d "${TMPDIR:-/tmp}/.galley.XXXXXX") ||
      { D=; printf 'galley agent: mktemp -d failed\n' >&4; }
    if [ "$len" -lt 0 ]; then i=/dev/null
    elif [ -n "$D" ]; then head -c "$len" >"$D/in"; i=$D/in
    else head -c "$len" >/dev/null; i=/dev/null; c='exit 1'; fi
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
