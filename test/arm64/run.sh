#!/usr/bin/env bash
# npm run test:arm64 — floorgate on a Pi-class CPU. An arm64 Debian root runs under qemu-user
# emulation: `floorgate run` polls the Modbus simulator and forwards to a mosquitto on this
# host's loopback, the broker is restarted in the middle, and every seq must arrive. The same run
# on this host's own node is printed beside it (start-up, RSS, CPU per reading). Then the arm64
# .deb (npm run package) goes through test/package/offline.sh in a copy of the root: offline
# install, run, upgrade, remove, purge.
#
# Not part of `npm test`: it needs root (debootstrap, chroot, mount) and binfmt_misc, and skips,
# saying why, without them. The first run builds the root (~5 min) and the arm64 dependencies
# (~2 min); later runs reuse both and take ~3 min.
#
#   FLOORGATE_ARM64_CACHE    where the root, downloads and logs live (default /var/cache/floorgate-arm64)
#   FLOORGATE_ARM64_ROOT     the arm64 root (default $FLOORGATE_ARM64_CACHE/root)
#   FLOORGATE_ARM64_MIRROR   Debian mirror for debootstrap (default: the one apt uses here)
#   FLOORGATE_ARM64_BUILD    cross (default): better-sqlite3 compiled on this host with
#                            g++-aarch64-linux-gnu; emulated: compiled inside the root under qemu,
#                            as `npm ci` on a device would (~13 min here)
#   FLOORGATE_ARM64_SECONDS  length of the measured steady window of each run (default 20)
# shellcheck source-path=SCRIPTDIR
set -eEuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${FLOORGATE_ARM64_CACHE:-/var/cache/floorgate-arm64}
ROOT=${FLOORGATE_ARM64_ROOT:-$CACHE/root}
MODE=${FLOORGATE_ARM64_BUILD:-cross}
STEADY_SECONDS=${FLOORGATE_ARM64_SECONDS:-20}
LOG_DIR=$CACHE/logs
BINFMT=/proc/sys/fs/binfmt_misc
MOUNTED_BINFMT=0
SMOKE_PID=

LABEL=arm64
source "$HERE/harness.sh"
source "$HERE/chroot.sh"
source "$HERE/root.sh"
source "$HERE/app.sh"
source "$HERE/../package/nodejs-deb.sh"
source "$HERE/../package/offline-install.sh"

# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
  local waited=0
  if [ -n "$SMOKE_PID" ] && kill -0 "$SMOKE_PID" 2>/dev/null; then
    kill -TERM "$SMOKE_PID" 2>/dev/null || true
    while kill -0 "$SMOKE_PID" 2>/dev/null && [ "$waited" -lt 30 ]; do sleep 1; waited=$((waited + 1)); done
    kill -KILL "$SMOKE_PID" 2>/dev/null || true
  fi
  chroot_unmount "$ROOT"
  remove_offline_root "$CACHE/work"
  if [ "$MOUNTED_BINFMT" = 1 ]; then umount "$BINFMT" 2>/dev/null || true; fi
}

# --- what this needs, or why it cannot run -------------------------------------------------------
case "$MODE" in cross | emulated) ;; *) setup_failed "FLOORGATE_ARM64_BUILD must be cross or emulated, not $MODE" ;; esac
[ "$(uname -s)" = Linux ] || skip "needs Linux (chroot, binfmt_misc)"
[ "$(id -u)" -eq 0 ] || skip "needs root for debootstrap, chroot and mount: run it as root (sudo npm run test:arm64)"

begin_run

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mosquitto >/dev/null || need+=(mosquitto)
if [ "$(uname -m)" != aarch64 ]; then
  command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
  command -v update-binfmts >/dev/null || need+=(binfmt-support)
  [ "$MODE" = cross ] && ! command -v aarch64-linux-gnu-g++ >/dev/null && need+=(g++-aarch64-linux-gnu)
fi
apt_install "${need[@]}"

if [ "$(uname -m)" = aarch64 ]; then
  echo "arm64: this host is arm64 itself: no emulation, the root runs natively"
else
  # The kernel runs arm64 programs through qemu only via a binfmt_misc registration.
  if [ ! -e "$BINFMT/status" ]; then
    grep -qw binfmt_misc /proc/filesystems || skip "the kernel has no binfmt_misc, so it cannot run arm64 programs through qemu"
    mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null \
      || skip "binfmt_misc is not mounted at $BINFMT and cannot be mounted here (a container without the privilege?)"
    MOUNTED_BINFMT=1
  fi
  if [ ! -e "$BINFMT/qemu-aarch64" ]; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
  [ -e "$BINFMT/qemu-aarch64" ] || skip "qemu-aarch64 is not registered in binfmt_misc and registering it failed (update-binfmts --enable qemu-aarch64)"
  grep -qx enabled "$BINFMT/qemu-aarch64" || skip "the qemu-aarch64 binfmt_misc entry is disabled (update-binfmts --enable qemu-aarch64)"
fi

# --- the root, Node.js and floorgate in it --------------------------------------------------------
ensure_root "$ROOT"
if [ "$(uname -m)" != aarch64 ] && ! grep -q '^flags:.*F' "$BINFMT/qemu-aarch64"; then
  # Without the F flag the kernel looks the interpreter up inside the root at exec time.
  interpreter=$(sed -n 's/^interpreter //p' "$BINFMT/qemu-aarch64")
  mkdir -p "$ROOT$(dirname "$interpreter")"
  cp "$(readlink -f "$interpreter")" "$ROOT$interpreter"
fi
chroot "$ROOT" /bin/true || setup_failed "cannot run a program in the arm64 root (binfmt_misc / qemu-aarch64-static)"
ensure_node "$ROOT"
ensure_ca_bundle "$ROOT"
chroot_mount "$ROOT"

echo "arm64: building floorgate (npm run build)"
(cd "$REPO" && npm run build && npx tsc -p test/arm64/tsconfig.json) >"$LOG_DIR/build.log" 2>&1 \
  || fail_with_log "npm run build failed" "$LOG_DIR/build.log"
ensure_app "$ROOT" "$MODE"

# --- the smoke: it prints the comparison and the closing "N passed, N failed" line ----------------
# In the background so that a SIGTERM to this script reaches the trap at once (bash runs traps
# only between commands), which then stops the smoke and lets it kill what it started.
trap - ERR
node "$REPO/dist/test/arm64/smoke.js" --root "$ROOT" --app "$APP" --node /opt/node/bin/node \
  --seconds "$STEADY_SECONDS" --timings "$LOG_DIR/timings" > >(tee "$LOG_DIR/smoke.log") &
SMOKE_PID=$!
set +e
wait "$SMOKE_PID"
set -e
SMOKE_PID=
# The smoke's closing line, "arm64: N passed, N failed"; none (a crash) counts as a failure.
read -r PASSED FAILED < <(sed -n 's/^arm64: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$LOG_DIR/smoke.log" | tail -n 1) || true
PASSED=${PASSED:-0}
FAILED=${FAILED:-1}

# --- the arm64 .deb, offline, as test/package/run.sh does for amd64 ----------------------------------
# The copy of the root must not carry the mounts along.
chroot_unmount "$ROOT"
echo "arm64: building the arm64 .deb (npm run package) and installing it offline into a copy of the root"
if FLOORGATE_PACKAGE_ARCHES=arm64 FLOORGATE_ARM64_LOCK_HELD=1 bash "$REPO/packaging/deb/build.sh" >"$LOG_DIR/package.log" 2>&1; then
  cat "$LOG_DIR/package.log"
  # Node starts in seconds under qemu: longer runs, so that each one publishes.
  install_offline "$ROOT" "$CACHE/work" "$(nodejs_deb arm64)" "$(ls "$REPO"/dist/deb/floorgate_*_arm64.deb)" 25
else
  echo "FAIL npm run package (arm64); the end of $LOG_DIR/package.log:"
  tail -n 20 "$LOG_DIR/package.log"
  FAILED=$((FAILED + 1))
fi
echo "arm64: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
