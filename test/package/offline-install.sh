# shellcheck shell=bash
# Sourced by test/package/run.sh (amd64) and test/arm64/run.sh (arm64, under qemu): installs
# floorgate's .deb into a throw-away copy of a Debian root and runs test/package/offline.sh there
# inside a network namespace with nothing but loopback. Adds its PASS/FAIL counts to PASSED and
# FAILED. Needs chroot.sh (mounts) and LOG_DIR.

OFFLINE_PID=

# install_offline BASE WORK NODEJS_DEB FLOORGATE_DEB RUN_SECONDS
install_offline() {
  local base=$1 work=$2 nodejs=$3 deb=$4 seconds=$5 code counts
  assert_nothing_mounted_below "$work"
  rm -rf "$work"
  cp -a "$base" "$work"
  chroot_mount "$work"
  cp "$nodejs" "$work/tmp/nodejs.deb"
  cp "$deb" "$work/tmp/floorgate.deb"
  rm -f "$LOG_DIR/offline.counts"
  # The namespace's own loopback: nothing inside reaches a network, and its ports clash with no one's.
  set +e
  unshare --net -- bash "$REPO/test/package/offline.sh" "$work" "$REPO" "$LOG_DIR" "$seconds" &
  OFFLINE_PID=$!
  wait "$OFFLINE_PID"
  code=$?
  OFFLINE_PID=
  set -e
  counts=$(cat "$LOG_DIR/offline.counts" 2>/dev/null || echo "0 1")
  PASSED=$((PASSED + ${counts% *}))
  FAILED=$((FAILED + ${counts#* }))
  if [ "$code" -ne 0 ] && [ "${counts#* }" = 0 ]; then FAILED=$((FAILED + 1)); fi
  remove_offline_root "$work"
}

# From the EXIT trap too: stops the offline run, unmounts and deletes the copy.
remove_offline_root() {
  local work=$1
  if [ -n "$OFFLINE_PID" ] && kill -0 "$OFFLINE_PID" 2>/dev/null; then
    kill -TERM "$OFFLINE_PID" 2>/dev/null || true
    sleep 2
    kill -KILL "$OFFLINE_PID" 2>/dev/null || true
  fi
  chroot_unmount "$work"
  if assert_nothing_mounted_below "$work" 2>/dev/null; then rm -rf "$work"; fi
}
