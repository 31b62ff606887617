# shellcheck shell=bash
# Sourced by test/package/run.sh (and test/arm64/run.sh): a `nodejs` package for the test roots,
# made from the npm registry's node-linux-ARCH binary (test/arm64/root.sh, node_tarball), since
# Debian bookworm's own nodejs is 18 and floorgate's package needs 20. On a real gateway that
# package comes from NodeSource or a similar repository; this one stands in for it, offline.

# Builds (once per version and CPU) $CACHE/nodejs_<version>_<debian arch>.deb; prints its path.
nodejs_deb() {
  local arch=$1 node_arch deb stage tarball
  case "$arch" in amd64) node_arch=x64 ;; arm64) node_arch=arm64 ;; *) echo "$LABEL: no Node.js for $arch" >&2; return 1 ;; esac
  deb=$CACHE/nodejs_$ARM64_NODE_VERSION-1_$arch.deb
  if [ -f "$deb" ]; then
    echo "$deb"
    return 0
  fi
  tarball=$(node_tarball "$node_arch")
  stage=$(mktemp -d)
  mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/doc/nodejs"
  tar -xzf "$tarball" -C "$stage" --strip-components=1 package/bin/node package/LICENSE
  mv "$stage/bin/node" "$stage/usr/bin/node"
  mv "$stage/LICENSE" "$stage/usr/share/doc/nodejs/copyright"
  rmdir "$stage/bin"
  cat >"$stage/DEBIAN/control" <<CONTROL
Package: nodejs
Version: $ARM64_NODE_VERSION-1
Architecture: $arch
Maintainer: floorgate developers <dev@floorgate.invalid>
Depends: libc6, libgcc-s1, libstdc++6
Description: Node.js $ARM64_NODE_VERSION (test stand-in for NodeSource's nodejs)
 The official binary from the npm registry's node-linux-$node_arch package.
CONTROL
  dpkg-deb --root-owner-group --build "$stage" "$deb.tmp" >/dev/null
  rm -rf "$stage"
  mv "$deb.tmp" "$deb"
  echo "$deb"
}
