#!/usr/bin/env bash
# Installs floorgate as a systemd service on a Debian / Raspberry Pi OS gateway, from the built
# checkout this script lives in:
#
#   git clone … floorgate && cd floorgate
#   npm ci && npm run build          # on the gateway itself, or a machine of the same CPU and OS:
#                                    # node_modules holds native addons (SQLite, serial ports)
#   sudo systemd/install.sh
#
# What it does (each step only when needed, so a second run changes nothing and says so):
#   PREFIX (default /opt/floorgate)    dist/, config/, package*.json and the production part of
#                                      node_modules (devDependencies left out), replaced as a whole
#   /usr/local/bin/floorgate           a wrapper that runs the installed CLI with this node
#   user and group floorgate           a system account, member of dialout (serial ports)
#   /etc/floorgate/ (0750 root:floorgate) and floorgate.yaml (0640), from config/floorgate.example.yaml,
#                                      only when absent: an existing config is never touched
#   /var/lib/floorgate (0700 floorgate) the buffer and the OPC UA PKI
#   /etc/systemd/system/floorgate.service  with ExecStart pointing at PREFIX
#   systemctl daemon-reload, enable; and restart when an upgrade changed a running service
#
# --root DIR installs into DIR instead of / (an image being prepared, or a test): the node the
# service will run (--node, as seen inside DIR) must exist there; accounts are made with useradd
# --root when DIR/etc/passwd exists (and skipped, saying so, when not); the unit is enabled by
# its WantedBy= link, as systemctl enable would, and systemctl is never called.
set -euo pipefail
umask 022

usage() {
  cat <<EOF
usage: $0 [--root DIR] [--prefix DIR] [--node PATH]
  --root DIR     install below DIR instead of / (default /)
  --prefix DIR   where the application goes, as seen on the target (default /opt/floorgate)
  --node PATH    the node binary the service runs, as seen on the target
                 (default: node on PATH, Node.js >= 20; with --root it must exist in DIR)
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

ROOT=/
PREFIX=/opt/floorgate
# The node that runs this script's helpers here, and (by default) the one the service runs.
HOST_NODE=$(command -v node || true)
NODE=$HOST_NODE
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --node) NODE=${2:?--node needs a path}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
  esac
done

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$ROOT" 2>/dev/null && pwd) || die "--root $ROOT: no such directory"
# R prefixes every target path; empty when installing onto this machine.
R=${ROOT%/}
case "$PREFIX" in /?*) ;; *) die "--prefix must be an absolute path" ;; esac
PREFIX=${PREFIX%/}
CONFIG_DIR=/etc/floorgate
STATE_DIR=/var/lib/floorgate
UNIT=/etc/systemd/system/floorgate.service
WRAPPER=/usr/local/bin/floorgate

if [ -z "$R" ] && [ "$(id -u)" -ne 0 ]; then die "run it as root (sudo $0), or use --root DIR"; fi
[ -f "$SRC/dist/src/cli/main.js" ] || die "$SRC is not built: run npm ci && npm run build first"
[ -d "$SRC/node_modules" ] || die "$SRC/node_modules is missing: run npm ci first"
[ -f "$SRC/config/floorgate.example.yaml" ] || die "$SRC/config/floorgate.example.yaml is missing"
[ -n "$HOST_NODE" ] || die "node not found on PATH: this script needs it to copy the application"
[ -n "$NODE" ] || die "node not found: install Node.js 20 or newer, or pass --node PATH"
case "$NODE" in /*) ;; *) die "--node must be an absolute path" ;; esac
# An image whose ExecStart= names a node it does not have would never start. (A symbolic link
# is taken as it is: an absolute one inside an image cannot be followed from here.)
if [ ! -x "$R$NODE" ] && [ ! -L "$R$NODE" ]; then
  if [ -n "$R" ]; then die "$NODE does not exist in $ROOT: install Node.js 20 or newer in the image, or pass --node PATH (as seen inside it)"; fi
  die "$NODE is not an executable: install Node.js 20 or newer, or pass --node PATH"
fi
# Both end up unquoted in ExecStart= and in a shell wrapper.
case "$PREFIX$NODE" in *[!A-Za-z0-9/._+-]*) die "--prefix and --node must not contain spaces or special characters" ;; esac
if NODE_VERSION=$("$R$NODE" -p 'process.versions.node' 2>/dev/null); then
  [ "${NODE_VERSION%%.*}" -ge 20 ] || die "$NODE is Node.js $NODE_VERSION; floorgate needs 20 or newer"
else
  echo "note: cannot run $R$NODE on this machine (an image for another CPU?): its version is not checked" >&2
fi
# The V8 flags floorgate runs with are those on its CLI's shebang line (README: Performance).
NODE_CMD="$NODE $(sed -n '1s/^#!.* -S node *//p' "$SRC/dist/src/cli/main.js")"
NODE_CMD=${NODE_CMD% }
case "$NODE" in
  /home/* | /root/*) echo "warning: $NODE is below /home or /root, which the service cannot see (ProtectHome=yes); install Node.js system-wide" >&2 ;;
esac

CHANGED=0
changed() {
  CHANGED=1
  echo "  $*"
}

echo "installing floorgate from $SRC into ${R:-/} (prefix $PREFIX)"

# --- application -------------------------------------------------------------------------------
# Built beside the target and swapped in whole, so a running service never sees half an upgrade.
APP_CHANGED=0
mkdir -p "$R$(dirname "$PREFIX")"
STAGE="$R$PREFIX.new.$$"
trap 'rm -rf "$STAGE" "$R$PREFIX.old.$$"' EXIT
mkdir "$STAGE"
cp -R "$SRC/dist" "$SRC/config" "$SRC/package.json" "$SRC/package-lock.json" "$SRC/node_modules" "$STAGE/"
[ -f "$SRC/README.md" ] && cp "$SRC/README.md" "$STAGE/"
# Compiled benchmarks and test helpers are not part of the product.
rm -rf "$STAGE/dist/test"
# Drop devDependencies using the lockfile's own marks; works offline and without npm.
"$HOST_NODE" -e '
  const fs = require("fs"), path = require("path");
  const dir = process.argv[1];
  const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8"));
  for (const [where, entry] of Object.entries(lock.packages ?? {})) {
    if (where && entry.dev) fs.rmSync(path.join(dir, where), { recursive: true, force: true });
  }
' "$STAGE"
rm -f "$STAGE/node_modules/.package-lock.json"
[ -d "$STAGE/node_modules/.bin" ] && find "$STAGE/node_modules/.bin" -xtype l -delete
find "$STAGE/node_modules" -mindepth 1 -maxdepth 1 -name '@*' -type d -empty -delete

if [ -d "$R$PREFIX" ] && diff -rq --no-dereference "$STAGE" "$R$PREFIX" >/dev/null 2>&1; then
  rm -rf "$STAGE"
else
  if [ -d "$R$PREFIX" ]; then
    mv "$R$PREFIX" "$R$PREFIX.old.$$"
    mv "$STAGE" "$R$PREFIX"
    rm -rf "$R$PREFIX.old.$$"
    changed "upgraded the application in $PREFIX"
  else
    mv "$STAGE" "$R$PREFIX"
    changed "installed the application in $PREFIX"
  fi
  APP_CHANGED=1
fi

# Writes $2 (content) to $1 with mode $3 when it differs; PUT_CHANGED tells whether it did.
# (A status code would put callers in a conditional, where bash ignores set -e inside the function.)
put_file() {
  local path=$1 content=$2 mode=$3
  PUT_CHANGED=0
  if [ -f "$R$path" ] && [ "$(cat "$R$path")" = "$content" ] && [ "$(stat -c %a "$R$path")" = "$mode" ]; then
    return 0
  fi
  mkdir -p "$R$(dirname "$path")"
  printf '%s\n' "$content" >"$R$path.tmp.$$"
  chmod "$mode" "$R$path.tmp.$$"
  mv "$R$path.tmp.$$" "$R$path"
  PUT_CHANGED=1
  changed "wrote $path"
}

put_file "$WRAPPER" "#!/bin/sh
exec $NODE_CMD $PREFIX/dist/src/cli/main.js \"\$@\"" 755

# --- account -----------------------------------------------------------------------------------
in_file() { [ -f "$R/etc/$1" ] && grep -q "^$2:" "$R/etc/$1"; }
if [ -n "$R" ]; then ACCOUNT_TOOLS=(--root "$ROOT"); else ACCOUNT_TOOLS=(); fi
if [ -f "$R/etc/passwd" ]; then
  if ! in_file group dialout; then
    groupadd "${ACCOUNT_TOOLS[@]}" --system dialout
    changed "created group dialout"
  fi
  if ! in_file passwd floorgate; then
    useradd "${ACCOUNT_TOOLS[@]}" --system --user-group --groups dialout \
      --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin --comment "floorgate gateway" floorgate
    changed "created system user floorgate (member of dialout)"
  elif ! awk -F: '$1 == "dialout" { print $4 }' "$R/etc/group" | tr , '\n' | grep -qx floorgate; then
    usermod "${ACCOUNT_TOOLS[@]}" --append --groups dialout floorgate
    changed "added user floorgate to group dialout"
  fi
  FG_UID=$(awk -F: '$1 == "floorgate" { print $3 }' "$R/etc/passwd")
  FG_GID=$(awk -F: '$1 == "floorgate" { print $3 }' "$R/etc/group")
else
  echo "  $ROOT has no etc/passwd: not creating user floorgate (would run: useradd --system --user-group --groups dialout --home-dir $STATE_DIR --shell /usr/sbin/nologin floorgate); files stay owned by $(id -un)"
  FG_UID=$(id -u)
  FG_GID=$(id -g)
fi

# Creates directory $1 or corrects it to mode $2, owner $3:$4.
put_dir() {
  local path=$1 mode=$2 uid=$3 gid=$4
  if [ -d "$R$path" ] && [ "$(stat -c '%a %u %g' "$R$path")" = "$mode $uid $gid" ]; then
    return 0
  fi
  mkdir -p "$R$path"
  chmod "$mode" "$R$path"
  chown "$uid:$gid" "$R$path"
  changed "set up $path ($mode, owner $uid:$gid)"
}

# --- configuration and state -------------------------------------------------------------------
# Owned by root (by whoever runs this, under --root) and readable by the floorgate group.
ADMIN_UID=$(id -u)
put_dir "$CONFIG_DIR" 750 "$ADMIN_UID" "$FG_GID"
if [ ! -e "$R$CONFIG_DIR/floorgate.yaml" ]; then
  install -m 0640 -o "$ADMIN_UID" -g "$FG_GID" "$SRC/config/floorgate.example.yaml" "$R$CONFIG_DIR/floorgate.yaml"
  changed "wrote $CONFIG_DIR/floorgate.yaml from the example: edit it before starting floorgate"
fi
put_dir "$STATE_DIR" 700 "$FG_UID" "$FG_GID"

# --- service -----------------------------------------------------------------------------------
unit=$(sed "s|^ExecStart=.*|ExecStart=$NODE_CMD $PREFIX/dist/src/cli/main.js run -c $CONFIG_DIR/floorgate.yaml|" "$SRC/systemd/floorgate.service")
put_file "$UNIT" "$unit" 644
UNIT_CHANGED=$PUT_CHANGED

if [ -z "$R" ] && [ -d /run/systemd/system ]; then
  if [ "$UNIT_CHANGED" = 1 ]; then
    systemctl daemon-reload
  fi
  if ! systemctl is-enabled --quiet floorgate; then
    systemctl enable floorgate
    changed "enabled floorgate.service (starts at boot)"
  fi
  if [ $((APP_CHANGED + UNIT_CHANGED)) -gt 0 ] && systemctl is-active --quiet floorgate; then
    systemctl restart floorgate
    changed "restarted the running floorgate.service"
  fi
elif [ -z "$R" ]; then
  echo "  systemd is not running here: enable the service later with systemctl enable --now floorgate"
else
  # What systemctl enable does, offline: the unit's WantedBy= link (the image boots it).
  read -ra targets <<<"$(sed -n 's/^WantedBy=//p' "$SRC/systemd/floorgate.service" | tr '\n' ' ')"
  for target in "${targets[@]}"; do
    link=/etc/systemd/system/$target.wants/floorgate.service
    if [ "$(readlink "$R$link" 2>/dev/null)" != "$UNIT" ]; then
      mkdir -p "$R$(dirname "$link")"
      ln -sfn "$UNIT" "$R$link"
      changed "enabled floorgate.service in the image ($link; starts at boot)"
    fi
  done
fi

if [ "$CHANGED" = 0 ]; then
  echo "floorgate is already installed and up to date: nothing changed"
else
  echo "done. Next: edit $CONFIG_DIR/floorgate.yaml, check it with: floorgate check -c $CONFIG_DIR/floorgate.yaml"
  echo "      then: systemctl start floorgate; floorgate status -c $CONFIG_DIR/floorgate.yaml"
fi
