# Shared helpers for the guest-image build scripts (sourced, not executed).
# shellcheck shell=bash

MAYU_CACHE_DIR=${MAYU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mayu}
GUEST_IMAGE_CACHE="$MAYU_CACHE_DIR/guest-image"

# step NAME MESSAGE: one progress line per build step, on stderr.
step() {
  printf '[guest-image] %-8s %s\n' "$1" "$2" >&2
}

die() {
  printf '[guest-image] error: %s\n' "$*" >&2
  exit 1
}

# hash_inputs FILE...: a short, stable hash of the contents and names of FILEs.
hash_inputs() {
  local f
  for f in "$@"; do
    printf '%s\0' "${f##*/}"
    cat "$f"
  done | sha256sum | cut -c1-16
}

# with_progress LABEL LOGFILE CMD...: runs CMD with its output in LOGFILE.
# On a terminal, a single line shows how many lines of output it has written
# and for how long; elsewhere a line every 30 s says it is still running.
# On failure the end of LOGFILE is printed.
with_progress() {
  local label=$1 log=$2
  shift 2
  local start=$SECONDS rc=0
  "$@" >"$log" 2>&1 &
  local pid=$! next_report=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if [ -t 2 ]; then
      printf '\r[guest-image] %-8s %5d lines of output, %4ds ' "$label" "$(wc -l <"$log")" $((SECONDS - start)) >&2
      sleep 1
    else
      sleep 2
      if [ "$SECONDS" -ge "$next_report" ]; then
        step "$label" "still running ($((SECONDS - start)) s, $(wc -l <"$log") lines of output)"
        next_report=$((SECONDS + 30))
      fi
    fi
  done
  wait "$pid" || rc=$?
  [ -t 2 ] && printf '\n' >&2
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log" >&2
    die "$label failed (exit $rc); full log: $log"
  fi
  step "$label" "done in $((SECONDS - start)) s"
}

# lock_cache: one guest-image build at a time per cache directory (CI jobs,
# a developer running setup twice). Holds until the calling script exits.
lock_cache() {
  # A script called by one that holds the lock (build -> build-kernel.sh) is covered by it.
  [ "${MAYU_GUEST_IMAGE_LOCKED:-}" = "$GUEST_IMAGE_CACHE" ] && return 0
  mkdir -p "$GUEST_IMAGE_CACHE"
  exec 9>"$GUEST_IMAGE_CACHE/.lock"
  if ! flock -n 9; then
    step lock "waiting for another guest-image build to finish"
    flock 9
  fi
  export MAYU_GUEST_IMAGE_LOCKED=$GUEST_IMAGE_CACHE
}
