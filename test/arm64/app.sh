# shellcheck shell=bash
# Sourced by run.sh: floorgate in the arm64 root as /opt/floorgate — its production
# dependencies built for arm64 (redone only when package-lock.json changes) and this checkout's
# dist/ (copied fresh every run).
#
# Native addons, and how each gets its arm64 binary:
#   better-sqlite3          compiled from source: its install script would download a prebuilt
#                           binary from outside the package registry, which is not reachable here
#   @serialport/bindings-cpp  ships prebuilds/linux-arm64 inside the package (node-gyp-build)
#   koffi                   the optional dependency @koromix/koffi-linux-arm64 carries the binary
# A new native dependency fails the build below until it is added here.

APP=/opt/floorgate
KNOWN_NATIVE='better-sqlite3 @serialport/bindings-cpp koffi'

ensure_app() {
  local root=$1 mode=$2 stamp
  stamp="$mode $ARM64_NODE_VERSION $(sha256sum "$REPO/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$root$APP/.floorgate-deps" 2>/dev/null || true)" = "$stamp" ]; then
    echo "arm64: reusing the arm64 node_modules in $root$APP (package-lock.json unchanged)"
  else
    check_native_deps
    build_deps "$root" "$mode"
    echo "$stamp" >"$root$APP.new/.floorgate-deps"
    rm -rf "$root$APP"
    mv "$root$APP.new" "$root$APP"
  fi
  # package.json: floorgate finds its root (and version) by it. dist/test/arm64: natives.js.
  cp "$REPO/package.json" "$root$APP/"
  rm -rf "$root$APP/dist"
  mkdir -p "$root$APP/dist/test"
  cp -R "$REPO/dist/src" "$REPO/dist/drivers" "$root$APP/dist/"
  cp -R "$REPO/dist/test/arm64" "$root$APP/dist/test/"
}

check_native_deps() {
  local name unknown=''
  # Packages with install scripts in the production part of the lock file.
  for name in $(node -e '
    const lock = require(process.argv[1]);
    for (const [where, p] of Object.entries(lock.packages ?? {}))
      if (where && p.hasInstallScript && !p.dev) console.log(where.replace(/^.*node_modules\//, ""));
  ' "$REPO/package-lock.json"); do
    case " $KNOWN_NATIVE " in *" $name "*) ;; *) unknown="$unknown $name" ;; esac
  done
  if [ -n "$unknown" ]; then
    echo "arm64: native dependencies this script does not know how to build for arm64:$unknown (see test/arm64/app.sh)" >&2
    return 1
  fi
}

build_deps() {
  local root=$1 mode=$2 stage=$1$APP.new
  assert_nothing_mounted_below "$stage"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp "$REPO/package.json" "$REPO/package-lock.json" "$stage/"
  # --ignore-scripts: the addons are built below, for the right CPU; and floorgate's own
  # `prepare` (tsc) needs devDependencies, which --omit=dev leaves out.
  case "$mode" in
    cross)
      echo "arm64: installing production dependencies for arm64 on this host, cross-compiling better-sqlite3"
      (cd "$stage" && npm_config_cpu=arm64 npm_config_os=linux npm_config_libc=glibc \
        npm ci --omit=dev --ignore-scripts --no-audit --no-fund) >"$LOG_DIR/npm-ci.log" 2>&1 \
        || fail_with_log "npm ci (arm64 dependencies) failed" "$LOG_DIR/npm-ci.log"
      (cd "$stage" && timed "better-sqlite3 cross-compiled on the host" env \
        npm_config_arch=arm64 npm_config_target_arch=arm64 npm_config_nodedir="$root/opt/node" \
        npm_config_build_from_source=true JOBS="$(nproc)" \
        CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
        npm rebuild better-sqlite3 --foreground-scripts) >"$LOG_DIR/rebuild.log" 2>&1 \
        || fail_with_log "cross-compiling better-sqlite3 failed" "$LOG_DIR/rebuild.log"
      ;;
    emulated)
      echo "arm64: installing production dependencies inside the root under qemu, compiling better-sqlite3 there (slow)"
      ensure_build_tools "$root"
      rm -rf "$root/opt/npm"
      cp -R "$(npm root -g)/npm" "$root/opt/npm"
      in_root "$root" /bin/sh -c "cd $APP.new && /opt/node/bin/node /opt/npm/bin/npm-cli.js ci --omit=dev --ignore-scripts --no-audit --no-fund" \
        >"$LOG_DIR/npm-ci.log" 2>&1 || fail_with_log "npm ci inside the root failed" "$LOG_DIR/npm-ci.log"
      timed "better-sqlite3 compiled under emulation" in_root "$root" /bin/sh -c \
        "cd $APP.new && npm_config_nodedir=/opt/node npm_config_build_from_source=true JOBS=$(nproc) /opt/node/bin/node /opt/npm/bin/npm-cli.js rebuild better-sqlite3 --foreground-scripts" \
        >"$LOG_DIR/rebuild.log" 2>&1 || fail_with_log "compiling better-sqlite3 under emulation failed" "$LOG_DIR/rebuild.log"
      ;;
  esac
}

# A compiler, make and python3 inside the root, for node-gyp under emulation.
ensure_build_tools() {
  local root=$1
  [ -f "$root/.floorgate-build-tools" ] && return 0
  echo "arm64: installing g++, make and python3 inside the root (under qemu)"
  timed "apt-get install g++ make python3 under emulation" in_root "$root" /bin/sh -c \
    'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++ make python3' \
    >"$LOG_DIR/apt-in-root.log" 2>&1 || fail_with_log "apt-get inside the root failed" "$LOG_DIR/apt-in-root.log"
  touch "$root/.floorgate-build-tools"
}

# Runs a command inside the root with a clean environment: the host's PATH and variables mean
# nothing there. Proxy settings and the CA bundle carry over, for npm.
in_root() {
  local root=$1 var
  shift
  local bundle=/etc/ssl/certs/ca-certificates.crt
  local env=(PATH=/opt/node/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
    "npm_config_registry=$(npm config get registry)")
  [ -f "$root$bundle" ] && env+=("npm_config_cafile=$bundle" "NODE_EXTRA_CA_CERTS=$bundle")
  for var in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
    [ -n "${!var:-}" ] && env+=("$var=${!var}")
  done
  chroot "$root" /usr/bin/env -i "${env[@]}" "$@"
}
