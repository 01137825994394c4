#!/usr/bin/env bash
# Populates a staging directory from rootfs/recipe.
# usage: build-rootfs.sh STAGING VARIANT name=path...   (name: init, agent, vsock-addon...)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"

staging=$1 variant=$2
shift 2
declare -A product=()
for kv in "$@"; do product[${kv%%=*}]=${kv#*=}; done

rm -rf "$staging"
mkdir -p "$staging"

resolve_src() {
  local src=$1
  case "$src" in
    @*)
      [ -n "${product[${src#@}]:-}" ] || die "recipe names $src but the build did not provide it"
      echo "${product[${src#@}]}"
      ;;
    /*) echo "$src" ;;
    *) echo "$here/../$src" ;;
  esac
}

install_file() { # SRC DEST MODE
  [ -f "$1" ] || die "recipe source $1 does not exist"
  mkdir -p "$staging$(dirname "$2")"
  install -m "$3" "$1" "$staging$2"
}

# Copies the shared libraries an ELF file needs, at the paths the loader uses.
install_libs() {
  local lib
  ldd "$1" 2>/dev/null | grep -oE '(/[^ ]+\.so[^ ]*)' | while read -r lib; do
    [ -e "$staging$lib" ] || install_file "$(readlink -f "$lib")" "$lib" 0755
  done
}

while read -r -a words; do
  [ "${#words[@]}" -gt 0 ] || continue
  case "${words[0]}" in \#*) continue ;; esac
  if [ "${words[0]}" = debug ]; then
    [ "$variant" = debug ] || continue
    words=("${words[@]:1}")
  fi
  case "${words[0]}" in
    exec)
      src=$(resolve_src "${words[1]}")
      install_file "$src" "${words[2]}" 0755
      if ldd "$src" >/dev/null 2>&1; then install_libs "$src"; fi
      ;;
    file) install_file "$(resolve_src "${words[1]}")" "${words[2]}" 0644 ;;
    link)
      mkdir -p "$staging$(dirname "${words[2]}")"
      ln -sfn "${words[1]}" "$staging${words[2]}"
      ;;
    dir) for d in "${words[@]:1}"; do mkdir -p "$staging$d"; done ;;
    node)
      mkdir -p "$staging$(dirname "${words[1]}")"
      mknod -m "${words[5]}" "$staging${words[1]}" "${words[2]}" "${words[3]}" "${words[4]}"
      ;;
    *) die "recipe: unknown entry '${words[0]}'" ;;
  esac
done <"$here/recipe"
step rootfs "staged $(du -sh "$staging" | cut -f1) ($variant)"
