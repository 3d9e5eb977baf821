#!/bin/sh
# tests/deps.sh — installs every Debian package the build and the whole test
# suite need, only those missing (a second run installs nothing). Run as
# root on Debian 12. Package scripts are kept from starting services while
# installing (policy-rc.d), since the tests start their own servers on
# loopback ports. Node.js: the machine's node/npm when present, else
# Debian's nodejs and npm.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

build="autoconf automake libtool pkg-config gcc make libc6-dev libevent-dev libssl-dev
libfcgi-dev libfcgi-bin zlib1g-dev libhiredis-dev"
tests="python3 python3-websockets php-cli curl valgrind clang libclang-rt-14-dev redis-server
chromium openssl procps psmisc iproute2"
extra=""
[ -f "$here/bridge/packages.txt" ] && extra=$(grep -v '^#' "$here/bridge/packages.txt" || true)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || extra="$extra nodejs npm"

case "${1:-all}" in
build) want="$build" ;;
*) want="$build $tests $extra" ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
wrote_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    wrote_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends $missing || {
    apt-get update -q && apt-get install -y -q --no-install-recommends $missing
}
[ -n "$wrote_policy" ] && rm -f /usr/sbin/policy-rc.d
exit 0
