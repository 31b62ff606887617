#!/usr/bin/env bash
# npm run test:package — the amd64 .deb as an offline gateway meets it. Builds it (npm run
# package, amd64), runs lintian on it (no errors allowed), then, in a throw-away copy of a fresh
# Debian bookworm amd64 minbase root and a network namespace with nothing but loopback
# (test/package/offline.sh): installs Node.js 20 as a local `nodejs` package and floorgate's
# .deb with dpkg -i, checks the shipped config, runs the gateway as user floorgate against a
# Modbus simulator and mosquitto (from this host, inside the same namespace) with every seq
# arriving, upgrades over itself (buffer and config kept), removes (buffer kept) and purges.
#
# Needs root (debootstrap, chroot, mount, unshare). The root is built once (~2 min) and cached,
# stamp-guarded, under FLOORGATE_PACKAGE_CACHE (default /var/cache/floorgate-package).
# shellcheck source-path=SCRIPTDIR
set -eEuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${FLOORGATE_PACKAGE_CACHE:-/var/cache/floorgate-package}
BASE=$CACHE/root-amd64
WORK=$CACHE/work
LOG_DIR=$CACHE/logs
LABEL=package

source "$HERE/../arm64/harness.sh"
source "$HERE/../arm64/chroot.sh"
source "$HERE/../arm64/root.sh"
source "$HERE/nodejs-deb.sh"
source "$HERE/offline-install.sh"

# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() { remove_offline_root "$WORK"; }

[ "$(uname -s)" = Linux ] || skip "needs Linux (chroot, namespaces)"
[ "$(id -u)" -eq 0 ] || setup_failed "needs root for debootstrap, chroot, mount and unshare: sudo npm run test:package"
[ "$(dpkg --print-architecture)" = amd64 ] || skip "builds an amd64 root natively: this host is $(dpkg --print-architecture)"

begin_run

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v lintian >/dev/null || need+=(lintian)
command -v mosquitto >/dev/null || need+=(mosquitto)
apt_install "${need[@]}"

FLOORGATE_PACKAGE_ARCHES=amd64 bash "$REPO/packaging/deb/build.sh" >"$LOG_DIR/package.log" 2>&1 \
  || fail_with_log "npm run package failed" "$LOG_DIR/package.log"
cat "$LOG_DIR/package.log"
DEB=$(ls "$REPO"/dist/deb/floorgate_*_amd64.deb)

PASSED=0
FAILED=0
# lintian: errors fail the test; the warnings README.md argues are printed.
lintian --tag-display-limit 0 "$DEB" >"$LOG_DIR/lintian.log" 2>&1 || true
sed 's/^/lintian: /' "$LOG_DIR/lintian.log"
if grep -q '^E: ' "$LOG_DIR/lintian.log"; then
  echo "FAIL lintian reports errors"; FAILED=$((FAILED + 1))
else
  echo "PASS lintian: no errors"; PASSED=$((PASSED + 1))
fi

ensure_root "$BASE" amd64
NODEJS_DEB=$(nodejs_deb amd64)
trap - ERR
install_offline "$BASE" "$WORK" "$NODEJS_DEB" "$DEB" 6
echo "$LABEL: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
