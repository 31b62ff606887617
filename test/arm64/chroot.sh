# shellcheck shell=bash
# Sourced by run.sh: the kernel file systems a program in the arm64 root needs (node reads
# /proc for CPUs and memory, /dev for /dev/null and /dev/urandom), and their removal. Every
# mount made here is recorded in MOUNTED so that the EXIT trap undoes exactly those, and only
# those, even after a failure halfway.

MOUNTED=()

chroot_mount() {
  local root=$1
  mount_one "$root/proc" -t proc proc
  mount_one "$root/sys" -t sysfs sysfs
  mount_one "$root/dev" --bind /dev
}

mount_one() {
  local target=$1
  shift
  if mountpoint -q "$target"; then
    # Left over from a run that was killed before its trap could run: ours, so take it over.
    echo "$LABEL: reusing the mount on $target left by an earlier run"
  else
    mount "$@" "$target"
  fi
  MOUNTED+=("$target")
}

# Kills what still runs inside the root (only this script starts anything there, under a lock),
# then unmounts in reverse order. Never fails: it runs from the EXIT trap.
chroot_unmount() {
  local root=$1 pid i target
  for pid in $(pids_in_root "$root"); do
    echo "$LABEL: killing pid $pid, still running in $root"
    kill -KILL "$pid" 2>/dev/null || true
  done
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    target=${MOUNTED[i]}
    if mountpoint -q "$target" && ! umount "$target" 2>/dev/null; then
      sleep 1
      umount "$target" 2>/dev/null || { echo "$LABEL: $target busy, detaching it (umount -l)"; umount -l "$target" || true; }
    fi
  done
  MOUNTED=()
}

# Processes whose root directory is the arm64 root.
pids_in_root() {
  local root=$1 dir
  root=$(readlink -f "$root")
  for dir in /proc/[0-9]*; do
    [ "$(readlink "$dir/root" 2>/dev/null)" = "$root" ] && echo "${dir#/proc/}"
  done
  return 0
}

# Fails when anything is still mounted below dir: checked before a directory is deleted, so that
# rm -rf can never reach into the host's /dev or /proc through a stale bind mount.
assert_nothing_mounted_below() {
  local dir
  dir=$(readlink -f "$1")
  if findmnt -rn -o TARGET | grep -q "^$dir/"; then
    echo "$LABEL: refusing to delete $dir: something is still mounted below it" >&2
    return 1
  fi
}
