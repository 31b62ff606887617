# shellcheck shell=bash
# Sourced by test/arm64/run.sh and test/package/run.sh (and the package build): how a step that
# builds or tests in a Debian root reports. LABEL prefixes every line; LOG_DIR holds the logs;
# fd 3 is the terminal.
LABEL=${LABEL:-arm64}

# One closing line in the form test runners are read by.
skip() {
  echo "$LABEL: SKIPPED: $*"
  echo "$LABEL: 0 passed, 0 failed, 1 skipped"
  exit 0
}

setup_failed() {
  echo "$LABEL: FAILED before the test could run: $*" >&2
  echo "$LABEL: 0 passed, 1 failed"
  exit 1
}

fail_with_log() {
  echo "$LABEL: $1; the end of $2:" >&2
  tail -n 30 "$2" >&2
  setup_failed "$1"
}

# Runs a command and records how long it took (printed now and in the summary).
timed() {
  local label=$1 start end
  shift
  start=$(date +%s)
  "$@" || return $?
  end=$(date +%s)
  echo "$label: $((end - start)) s" >>"$LOG_DIR/timings"
  echo "$LABEL: $label took $((end - start)) s" >&3
}

# Takes CACHE/.lock (one run at a time), starts LOG_DIR afresh and sets the traps: the caller's
# cleanup on exit, and a closing line for any step that fails without its own message.
begin_run() {
  exec 3>&1
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock -n 9 || setup_failed "another $LABEL run holds $CACHE/.lock"
  rm -rf "$LOG_DIR"
  mkdir -p "$LOG_DIR"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  trap 'setup_failed "$BASH_COMMAND (line $LINENO) failed"' ERR
}

# apt-get installs the Debian packages named, if any.
apt_install() {
  [ $# -gt 0 ] || return 0
  echo "$LABEL: installing $*"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; } \
    >"$LOG_DIR/apt.log" 2>&1 || fail_with_log "apt-get install $* failed" "$LOG_DIR/apt.log"
}
