# Shared by scripts/build and scripts/test-cross: what each firmware target needs, and the
# environment that makes cargo build it fully static. Source it, then call `setup_target TRIPLE`.
#
# After setup_target: $arch (dist/ subdirectory), $runner (qemu-user binary, empty on x86_64),
# $machine (readelf -h "Machine:" text), and the cargo arguments in the array cargo_target_args.
# Exports CC_<triple> for ring's C and assembly, and the linker for cross targets. Installs the
# Debian packages a target needs (scripts/lib/packages.sh names them all; scripts/doctor lists
# what is missing).

. "$(dirname "${BASH_SOURCE[0]}")/packages.sh"

say() { echo "${0##*/}: $*" >&2; }

rust_target_installed() { rustup target list --installed 2>/dev/null | grep -qx "$1"; }

# rustup publishes no prebuilt std for 32-bit ARM musl here (404), so armv7 builds std from
# source (-Zbuild-std, rust-src component). A source-built std lacks the "self-contained"
# C runtime rustup would ship beside it (crt1.o, crti.o, libc.a, libunwind.a …); this makes
# one from Debian's musl-dev:armhf and the cross gcc's crt files. libgcc_eh stands in for
# libunwind (std's unwinder links -lunwind). Cached in target/.
armv7_self_contained_dir() {
  local out=$PWD/target/armv7-musl-self-contained
  if [ -f "$out/libc.a" ] && [ -f "$out/libunwind.a" ]; then echo "$out"; return 0; fi
  say "making the armv7 musl C runtime from Debian's musl-dev:armhf"
  local work; work=$(mktemp -d)
  local arch_opts=(-o APT::Architectures::=amd64 -o APT::Architectures::=armhf)
  # The armhf index of the security suite may fail its size check; the main suite has musl.
  apt-get -qq "${arch_opts[@]}" update >&2 || true
  (cd "$work" && apt-get -qq "${arch_opts[@]}" download musl-dev:armhf >&2)
  apt-get -qq update >&2 || true   # forget the armhf indexes again
  dpkg -x "$work"/musl-dev_*_armhf.deb "$work/root"
  local musl=$work/root/usr/lib/arm-linux-musleabihf
  local gcc_dir; gcc_dir=$(dirname "$(arm-linux-gnueabihf-gcc -print-libgcc-file-name)")
  mkdir -p "$out"
  cp "$musl"/{crt1.o,Scrt1.o,rcrt1.o,crti.o,crtn.o,libc.a} "$out"/
  cp "$gcc_dir"/{crtbegin.o,crtbeginS.o,crtend.o,crtendS.o} "$out"/
  cp "$gcc_dir"/libgcc_eh.a "$out"/libunwind.a
  rm -rf "$work"
  echo "$out"
}

setup_target() {
  local triple=$1 upper lower cc
  upper=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  lower=$(echo "$triple" | tr '-' '_')
  cargo_target_args=(--target "$triple")
  case "$triple" in
    x86_64-unknown-linux-musl)
      arch=x86_64; cc=musl-gcc; runner=""; machine="Advanced Micro Devices X86-64"
      install_packages "${packages_build_x86_64[@]}" || return 69
      rust_target_installed "$triple" || rustup target add "$triple" >&2 || return 69
      ;;
    aarch64-unknown-linux-musl)
      arch=aarch64; cc=aarch64-linux-gnu-gcc; runner=qemu-aarch64-static; machine="AArch64"
      install_packages "${packages_build_aarch64[@]}" || return 69
      rust_target_installed "$triple" || rustup target add "$triple" >&2 || return 69
      export "CARGO_TARGET_${upper}_LINKER=$cc"
      ;;
    armv7-unknown-linux-musleabihf)
      arch=armv7; cc=arm-linux-gnueabihf-gcc; runner=qemu-arm-static; machine="ARM"
      install_packages "${packages_build_armv7[@]}" || return 69
      export "CARGO_TARGET_${upper}_LINKER=$cc"
      if ! rust_target_installed "$triple" && ! rustup target add "$triple" >/dev/null 2>&1; then
        rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src >&2 || return 69
        local runtime; runtime=$(armv7_self_contained_dir) || return 69
        export "CARGO_TARGET_${upper}_RUSTFLAGS=-L native=$runtime"
        # build-std is unstable; RUSTC_BOOTSTRAP lets the same stable compiler that builds the
        # other targets do it, so all three binaries come from one rustc.
        export RUSTC_BOOTSTRAP=1
        cargo_target_args+=(-Zbuild-std=std,panic_abort)
      fi
      ;;
    *) say "unsupported target '$triple' (x86_64-unknown-linux-musl, aarch64-unknown-linux-musl, armv7-unknown-linux-musleabihf)"; return 2 ;;
  esac
  export "CC_${lower}=$cc"
  [ -z "$runner" ] || export "CARGO_TARGET_${upper}_RUNNER=$runner"
}
