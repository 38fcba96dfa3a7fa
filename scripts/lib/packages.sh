# Every Debian package the build and the tests need, named explicitly: apt-get runs with
# --no-install-recommends, so nothing may rely on a package's Recommends (the aarch64 cross
# gcc only *recommends* its C library headers, libc6-dev-arm64-cross, without which ring's C
# does not compile: bits/libc-header-start.h is missing).
#
# Sourced by scripts/doctor (lists what is missing), scripts/build and scripts/test (install it).

# Build: per target, the C compiler ring's C and assembly need, its C library headers, the
# binutils that read the result, and qemu-user for the cross targets' tests.
packages_build_x86_64=(gcc libc6-dev musl-tools musl-dev binutils file)
packages_build_aarch64=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu binutils file qemu-user-static)
packages_build_armv7=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross binutils-arm-linux-gnueabihf binutils file qemu-user-static)

# Tests: the independent peers and tools of DESIGN's "Testing against the real OS", and what
# scripts/test and scripts/run-shell themselves run.
packages_tests=(
  coreutils util-linux mount e2fsprogs procps psmisc   # unshare, setpriv, ionice, losetup, mkfs, ps
  net-tools iproute2 iputils-ping iperf3              # ifconfig, ip, tc, ping, iperf3
  chrony                                              # the NTP server peer
  python3                                             # crypt, tarfile, ipaddress as independent checkers
  tar gzip time openssl                               # GNU tar, gzip, /usr/bin/time, openssl
  tcpdump                                             # libpcap's filter compiler, the capture-filter yardstick
  # The fleet test (scripts/fleet/test): sshd in each simulated appliance, the ssh client and
  # sftp server Ansible's connection uses, and the virtualenv ansible-core is installed into.
  # Where an init system runs, openssh-server's postinst starts and enables this machine's own
  # sshd; the fleet test never uses that one (it runs /usr/sbin/sshd inside each sandbox).
  openssh-server openssh-client openssh-sftp-server python3-venv
)

# packages_for KIND: the packages of one kind (x86_64, aarch64, armv7 or tests), one a line.
packages_for() {
  case "$1" in
    x86_64) printf '%s\n' "${packages_build_x86_64[@]}" ;;
    aarch64) printf '%s\n' "${packages_build_aarch64[@]}" ;;
    armv7) printf '%s\n' "${packages_build_armv7[@]}" ;;
    tests) printf '%s\n' "${packages_tests[@]}" ;;
    *) return 2 ;;
  esac
}

# missing_packages PKG...: those not installed, one a line.
missing_packages() {
  local pkg
  for pkg in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || echo "$pkg"
  done
}

# install_packages PKG...: installs those missing (root only), explicitly and without Recommends.
install_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "${0##*/}: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "${0##*/}: need root to apt-get install ${missing[*]} (scripts/doctor lists what is missing)" >&2
    return 1
  fi
  if [ -z "${SENSORCTL_APT_UPDATED:-}" ]; then apt-get update -qq >&2; export SENSORCTL_APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
