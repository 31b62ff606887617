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
OFFLINE_PID=

source "$HERE/../arm64/harness.sh"
source "$HERE/../arm64/chroot.sh"
source "$HERE/../arm64/root.sh"
source "$HERE/nodejs-deb.sh"

# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
  if [ -n "$OFFLINE_PID" ] && kill -0 "$OFFLINE_PID" 2>/dev/null; then
    kill -TERM "$OFFLINE_PID" 2>/dev/null || true
    sleep 2
    kill -KILL "$OFFLINE_PID" 2>/dev/null || true
  fi
  chroot_unmount "$WORK"
  if assert_nothing_mounted_below "$WORK" 2>/dev/null; then rm -rf "$WORK"; fi
}

[ "$(uname -s)" = Linux ] || skip "needs Linux (chroot, namespaces)"
[ "$(id -u)" -eq 0 ] || setup_failed "needs root for debootstrap, chroot, mount and unshare: sudo npm run test:package"
[ "$(dpkg --print-architecture)" = amd64 ] || skip "builds an amd64 root natively: this host is $(dpkg --print-architecture)"

exec 3>&1
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -n 9 || setup_failed "another test:package run holds $CACHE/.lock"
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'setup_failed "$BASH_COMMAND (line $LINENO) failed"' ERR

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v lintian >/dev/null || need+=(lintian)
command -v mosquitto >/dev/null || need+=(mosquitto)
if [ ${#need[@]} -gt 0 ]; then
  echo "$LABEL: installing ${need[*]}"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"; } \
    >"$LOG_DIR/apt.log" 2>&1 || fail_with_log "apt-get install ${need[*]} failed" "$LOG_DIR/apt.log"
fi

FLOORGATE_PACKAGE_ARCHES=amd64 bash "$REPO/packaging/deb/build.sh" >"$LOG_DIR/package.log" 2>&1 \
  || fail_with_log "npm run package failed" "$LOG_DIR/package.log"
cat "$LOG_DIR/package.log"
DEB=$(ls "$REPO"/dist/deb/floorgate_*_amd64.deb)

passed=0
failed=0
# lintian: errors fail the test; the warnings README.md argues are printed.
lintian --tag-display-limit 0 "$DEB" >"$LOG_DIR/lintian.log" 2>&1 || true
sed 's/^/lintian: /' "$LOG_DIR/lintian.log"
if grep -q '^E: ' "$LOG_DIR/lintian.log"; then
  echo "FAIL lintian reports errors"; failed=$((failed + 1))
else
  echo "PASS lintian: no errors"; passed=$((passed + 1))
fi

ensure_root "$BASE" amd64
NODEJS_DEB=$(nodejs_deb amd64)
assert_nothing_mounted_below "$WORK"
rm -rf "$WORK"
cp -a "$BASE" "$WORK"
chroot_mount "$WORK"
cp "$NODEJS_DEB" "$WORK/tmp/nodejs.deb"
cp "$DEB" "$WORK/tmp/floorgate.deb"

# The namespace's own loopback: nothing inside can reach a network, and its ports clash with no one's.
trap - ERR
set +e
unshare --net -- bash "$HERE/offline.sh" "$WORK" "$REPO" "$LOG_DIR" &
OFFLINE_PID=$!
wait "$OFFLINE_PID"
code=$?
OFFLINE_PID=
set -e
counts=$(tail -n 1 "$LOG_DIR/offline.counts" 2>/dev/null || echo "0 1")
passed=$((passed + ${counts% *}))
failed=$((failed + ${counts#* }))
[ "$code" -eq 0 ] || [ "$failed" -gt 0 ] || failed=$((failed + 1))
echo "$LABEL: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
