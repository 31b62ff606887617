#!/usr/bin/env bash
# npm run package — floorgate_<version>_amd64.deb and floorgate_<version>_arm64.deb in dist/deb/,
# both built on this x86 host with dpkg-deb (no debhelper): an offline install for a gateway
# that has Node.js 20 or newer as its `nodejs` package (README, Install on a gateway).
#
#   /usr/lib/floorgate       the compiled gateway and its production node_modules, runtime files
#                            only (packaging/production-tree.mjs): no simulator, no demo broker
#   /usr/bin/floorgate       -> /usr/lib/floorgate/dist/src/cli/main.js
#   /lib/systemd/system/floorgate.service   systemd/floorgate.service, ExecStart on that tree
#   /etc/floorgate/floorgate.yaml           conffile, from config/floorgate.example.yaml
#   maintainer scripts       packaging/deb/{postinst,prerm,postrm}
#
# The arm64 addons are the cross-built ones of `npm run test:arm64` (test/arm64/app.sh), in its
# cache and redone only when package-lock.json changes; that needs root (the cache lives under
# /var/cache) and g++-aarch64-linux-gnu, installed here when missing.
#   FLOORGATE_PACKAGE_ARCHES   which to build (default "amd64 arm64")
#   FLOORGATE_MAINTAINER       the Maintainer field (default: a placeholder address)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$REPO/dist/deb
ARCHES=${FLOORGATE_PACKAGE_ARCHES:-amd64 arm64}
VERSION=$(node -p 'require(process.argv[1]).version' "$REPO/package.json")
# Not APP: test/arm64/app.sh, sourced below, names its own tree so.
LIB=/usr/lib/floorgate
# .invalid: a placeholder that says so (RFC 2606); a site building its own packages names itself.
MAINTAINER=${FLOORGATE_MAINTAINER:-floorgate developers <dev@floorgate.invalid>}

say() { echo "package: $*"; }
die() { echo "package: $*" >&2; exit 1; }

# The arm64 node_modules, as test/arm64 builds them (its functions, its cache and its lock).
arm64_node_modules() {
  CACHE=${FLOORGATE_ARM64_CACHE:-/var/cache/floorgate-arm64}
  ROOT=${FLOORGATE_ARM64_ROOT:-$CACHE/root}
  LOG_DIR=$CACHE/logs-package
  LABEL=package
  # shellcheck source=../../test/arm64/harness.sh
  source "$REPO/test/arm64/harness.sh"
  # shellcheck source=../../test/arm64/chroot.sh
  source "$REPO/test/arm64/chroot.sh"
  # shellcheck source=../../test/arm64/root.sh
  source "$REPO/test/arm64/root.sh"
  # shellcheck source=../../test/arm64/app.sh
  source "$REPO/test/arm64/app.sh"
  [ "$(id -u)" -eq 0 ] || die "the arm64 package needs root (its build cache is $CACHE): sudo npm run package, or FLOORGATE_PACKAGE_ARCHES=amd64"
  if ! command -v aarch64-linux-gnu-g++ >/dev/null; then
    say "installing g++-aarch64-linux-gnu (cross-compiles better-sqlite3)"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++-aarch64-linux-gnu; } >/dev/null
  fi
  mkdir -p "$CACHE" "$LOG_DIR"
  exec 3>&1
  # test:arm64 runs this holding the lock already.
  if [ "${FLOORGATE_ARM64_LOCK_HELD:-0}" != 1 ]; then
    exec 9>"$CACHE/.lock"
    flock -w 1800 9 || die "another test:arm64 or package run holds $CACHE/.lock"
  fi
  # ensure_app copies the arm64 smoke's natives check along: it is built with it.
  (cd "$REPO" && npx tsc -p test/arm64/tsconfig.json)
  ensure_node "$ROOT"
  ensure_app "$ROOT" cross >&2
  ARM64_MODULES=$ROOT$APP/node_modules
}

strip_for() { if [ "$1" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then echo aarch64-linux-gnu-strip; else echo strip; fi; }

# Debian's name for the CPU, and Node's.
node_arch() { case "$1" in amd64) echo x64 ;; arm64) echo arm64 ;; *) die "no such architecture: $1" ;; esac; }

build_one() {
  local arch=$1 stage deb modules=()
  stage=$(mktemp -d "${TMPDIR:-/tmp}/floorgate-deb-$arch.XXXXXX")
  # shellcheck disable=SC2064 # the stage is known now
  trap "rm -rf '$stage'" RETURN
  if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then modules=(--node-modules "$ARM64_MODULES"); fi
  node "$REPO/packaging/production-tree.mjs" --repo "$REPO" --out "$stage$LIB" --arch "$(node_arch "$arch")" "${modules[@]}"
  chmod 0755 "$stage$LIB/dist/src/cli/main.js"
  # Compiled here (amd64) or cross-compiled (arm64) with its symbols; the prebuilt addons come stripped.
  "$(strip_for "$arch")" --strip-unneeded "$stage$LIB/node_modules/better-sqlite3/build/Release/better_sqlite3.node"

  mkdir -p "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/floorgate" "$stage/usr/share/doc/floorgate" "$stage/DEBIAN"
  # Relative, as Debian policy wants a link within /usr.
  ln -s "../lib/floorgate/dist/src/cli/main.js" "$stage/usr/bin/floorgate"
  # The unit execs node itself (NotifyAccess=main), with the V8 flags of the CLI's shebang.
  local flags
  flags=$(sed -n '1s/^#!.* -S node *//p' "$REPO/dist/src/cli/main.js")
  sed "s|^ExecStart=.*|ExecStart=/usr/bin/node $flags $LIB/dist/src/cli/main.js run -c /etc/floorgate/floorgate.yaml|" \
    "$REPO/systemd/floorgate.service" >"$stage/lib/systemd/system/floorgate.service"
  # The schema where editors on the gateway find it, named by the conffile's modeline.
  install -D -m 0644 "$REPO/config/floorgate.schema.json" "$stage/usr/share/floorgate/floorgate.schema.json"
  # shellcheck disable=SC2016 # a literal $schema, not a variable
  sed '1s|\$schema=.*|$schema=/usr/share/floorgate/floorgate.schema.json|' "$REPO/config/floorgate.example.yaml" >"$stage/etc/floorgate/floorgate.yaml"
  chmod 0644 "$stage/etc/floorgate/floorgate.yaml"
  install -m 0644 "$HERE/copyright" "$stage/usr/share/doc/floorgate/copyright"
  gzip -9n <"$HERE/changelog" >"$stage/usr/share/doc/floorgate/changelog.gz"
  for script in postinst prerm postrm; do install -m 0755 "$HERE/$script" "$stage/DEBIAN/$script"; done
  echo /etc/floorgate/floorgate.yaml >"$stage/DEBIAN/conffiles"
  cat >"$stage/DEBIAN/control" <<CONTROL
Package: floorgate
Version: $VERSION
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: nodejs (>= 20), passwd, libc6 (>= 2.28), libgcc-s1, libstdc++6
Section: net
Priority: optional
Description: edge gateway: Modbus, OPC UA and serial to MQTT, store-and-forward
 floorgate polls PLCs and instruments (Modbus TCP and RTU, OPC UA, serial lines)
 and forwards their readings to an MQTT broker. Every reading is committed to a
 SQLite buffer first and deleted only once the broker acknowledged it, so a
 network or broker outage loses nothing.
CONTROL
  (cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
  deb=$OUT/floorgate_${VERSION}_$arch.deb
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
  say "$deb: $(du -k "$deb" | cut -f1) KiB, installed $(sed -n 's/^Installed-Size: //p' "$stage/DEBIAN/control") KiB"
}

command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"
say "building floorgate $VERSION for: $ARCHES"
(cd "$REPO" && npm run build >/dev/null)
mkdir -p "$OUT"
for arch in $ARCHES; do
  if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then arm64_node_modules; fi
  build_one "$arch"
done
