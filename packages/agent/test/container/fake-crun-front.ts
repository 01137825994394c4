/**
 * The fake crun's front: a POSIX shell script that `Crun` runs as its `bin`.
 * It records each call, answers the commands that only need the state files
 * (start, kill, delete, pause, resume, state) itself, and hands the ones
 * that read JSON (create, exec, update) to fake-crun.ts. Starting Node costs
 * ~60 ms a call; most of the manager's calls cost a shell's ~2 ms this way.
 *
 * State, per container under --root (written by fake-crun.ts's create):
 * `pid`, `status` (created | running | paused; "stopped" when the PID is
 * gone), `bundle`, `cgroup` (its directory, if any), `exec.fifo` (the init
 * waits on it until `start`), `exec-<pid>` per running exec, and the
 * injected failures `fail-<command>` (+ `.json`, the log line) and
 * `crash-<command>`. `calls.log` has one line per call: its arguments after
 * the global options, each followed by a tab.
 */

export interface FrontOptions {
  /** The Node binary and fake-crun.js, for create, exec and update. */
  node: string;
  script: string;
  /** Where create makes cgroup directories (linux.cgroupsPath under it). */
  cgroupRoot: string;
  /** The file the supervisors append "PID WAIT-STATUS" lines to. */
  exitReports: string;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function frontScript(o: FrontOptions): string {
  return `#!/bin/sh
export FAKE_CRUN_CGROUP_ROOT=${quote(o.cgroupRoot)} FAKE_CRUN_EXIT_REPORTS=${quote(o.exitReports)}
root=/run/crun log=
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=$2; shift 2 ;;
    --root=*) root=\${1#*=}; shift ;;
    --log=*) log=\${1#*=}; shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
mkdir -p "$root"
line=
for a; do line="$line$a\t"; done
printf '%s\\n' "$line" >> "$root/calls.log"

fail() {
  if [ -n "$log" ]; then printf '{"msg":"%s","level":"error"}\\n' "$1" >> "$log"; else printf 'crun: %s\\n' "$1" >&2; fi
  exit 1
}

cmd=$1
[ $# -gt 0 ] && shift
case $cmd in
  create|exec|update) exec ${quote(o.node)} ${quote(o.script)} --root "$root" \${log:+"--log=$log"} "$cmd" "$@" ;;
esac

all= force=
while [ $# -gt 0 ]; do
  case $1 in
    --all|-a) all=1; shift ;;
    --force|-f) force=1; shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
id=$1 sig=\${2:-TERM}
sig=\${sig#SIG}
[ -n "$id" ] || fail "$cmd: a container id is required"
dir=$root/$id
[ -f "$dir/pid" ] || fail "container \\\`$id\\\` does not exist"
read -r pid < "$dir/pid"
read -r status < "$dir/status"
kill -0 "$pid" 2>/dev/null || status=stopped

[ -e "$dir/crash-$cmd" ] && kill -KILL $$
if [ -f "$dir/fail-$cmd" ]; then
  if [ -n "$log" ]; then cat "$dir/fail-$cmd.json" >> "$log"; else cat "$dir/fail-$cmd" >&2; fi
  exit 1
fi

# The container's processes: its init, its execs and their descendants (crun signals its cgroup).
procs() {
  todo=$pid
  for f in "$dir"/exec-*; do [ -e "$f" ] && todo="$todo \${f##*/exec-}"; done
  found=
  while [ -n "$todo" ]; do
    next=
    for p in $todo; do
      kill -0 "$p" 2>/dev/null || continue
      found="$found $p"
      c=
      read -r c 2>/dev/null < "/proc/$p/task/$p/children"
      next="$next $c"
    done
    set -- $next
    todo=$*
  done
  echo $found
}

case $cmd in
  start)
    [ "$status" = created ] || fail "container \\\`$id\\\` is not in created state ($status)"
    cat "$dir/exec.fifo" > /dev/null
    echo running > "$dir/status" ;;
  kill)
    if [ -n "$all" ]; then list=$(procs); else
      [ "$status" = stopped ] && fail "container \\\`$id\\\` is not running"
      list=$pid
    fi
    [ -z "$list" ] || kill -"$sig" $list 2>/dev/null ;;
  delete)
    if [ "$status" != stopped ]; then
      [ -n "$force" ] || fail "the container \\\`$id\\\` is not in 'stopped' state"
      list=$(procs)
      [ -z "$list" ] || kill -KILL $list 2>/dev/null
    fi
    if [ -f "$dir/cgroup" ]; then read -r cg < "$dir/cgroup"; rm -rf "$cg"; fi
    rm -rf "$dir" ;;
  pause|resume)
    want=running sigs=STOP next=paused
    [ "$cmd" = resume ] && want=paused sigs=CONT next=running
    [ "$status" = "$want" ] || fail "container \\\`$id\\\` is not $want"
    list=$(procs)
    [ -z "$list" ] || kill -$sigs $list 2>/dev/null
    echo $next > "$dir/status" ;;
  state)
    read -r bundle < "$dir/bundle"
    printf '{"ociVersion":"1.0.2","id":"%s","pid":%s,"status":"%s","bundle":"%s"}\\n' "$id" "$pid" "$status" "$bundle" ;;
  *) fail "unknown command \\\`$cmd\\\`" ;;
esac
`;
}
