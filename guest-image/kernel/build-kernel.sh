#!/usr/bin/env bash
# Builds the guest kernel: Debian's linux-source-6.1, allnoconfig, plus every
# fragment in kernel/fragments/. Every option a fragment sets must survive
# into the final .config, or the build fails naming it. The result is cached
# under $MAYU_CACHE_DIR by a hash of its inputs and printed as a path.
#
# usage: build-kernel.sh            prints the path of the built vmlinux
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"
lock_cache

tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || die "$tarball is missing: apt-get install linux-source-6.1"
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
fragments=("$here"/fragments/*.conf)
# Bump when the way the kernel is built changes (not for comments).
recipe_version=1
hash=$( (printf '%s\n' "$src_version" "$recipe_version"; hash_inputs "${fragments[@]}") | sha256sum | cut -c1-16)
out="$GUEST_IMAGE_CACHE/kernel/$hash"

if [ -f "$out/vmlinux" ]; then
  step kernel "cached ($hash)"
  echo "$out/vmlinux"
  exit 0
fi

src="$GUEST_IMAGE_CACHE/kernel/src-$src_version"
if [ ! -f "$src/.extracted" ]; then
  step kernel "extracting linux-source $src_version"
  rm -rf "$src"
  mkdir -p "$src"
  tar -xJf "$tarball" -C "$src" --strip-components=1
  touch "$src/.extracted"
fi

work="$GUEST_IMAGE_CACHE/kernel/build-$hash"
# Leftovers of interrupted builds (of any inputs) are never reused.
rm -rf "$GUEST_IMAGE_CACHE"/kernel/build-*
mkdir -p "$work"
step kernel "configuring (${#fragments[@]} fragments)"
make -s -C "$src" O="$work" ARCH=x86_64 allnoconfig >/dev/null
KCONFIG_CONFIG="$work/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$work" \
  "$work/.config" "${fragments[@]}" >"$work/merge.log" 2>&1 || {
  cat "$work/merge.log" >&2
  die "merging fragments failed"
}
make -s -C "$src" O="$work" ARCH=x86_64 olddefconfig >/dev/null

# Every requested option must be in the final config exactly as requested.
missing=()
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=n) want="# ${line%=n} is not set" ;;
    CONFIG_*=*) want=$line ;;
    *) continue ;;
  esac
  if ! grep -qxF -- "$want" "$work/.config"; then
    # An option that is off may also be absent (its dependencies are off).
    case "$line" in *=n) grep -qE "^${line%%=*}=" "$work/.config" || continue ;; esac
    have=$(grep -E "^(# )?${line%%=*}[= ]" "$work/.config" || echo "absent")
    missing+=("$line (final config: $have)")
  fi
done < <(cat "${fragments[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
  printf '  %s\n' "${missing[@]}" >&2
  die "${#missing[@]} requested kernel options are missing from the final .config"
fi

with_progress kernel "$work/make.log" make -C "$src" O="$work" ARCH=x86_64 -j"$(nproc)" vmlinux
release=$(make -s -C "$src" O="$work" ARCH=x86_64 kernelrelease)

mkdir -p "$out.tmp"
cp "$work/vmlinux" "$out.tmp/vmlinux"
cp "$work/.config" "$out.tmp/config"
printf '%s\n' "$release" >"$out.tmp/release"
printf '%s\n' "$src_version" >"$out.tmp/source-version"
rm -rf "$out"
mv "$out.tmp" "$out"
rm -rf "$work"
step kernel "built $release ($hash)"
echo "$out/vmlinux"
