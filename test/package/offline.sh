#!/usr/bin/env bash
# Run by test/package/run.sh inside `unshare --net`: the install, run, upgrade, remove and purge
# of floorgate's .deb in ROOT (a copy of a fresh bookworm root, /proc, /sys and /dev mounted),
# with no network but this namespace's loopback. The Modbus simulator, mosquitto and the audit
# run from the host's side (the simulators live in the dev tree), over that loopback.
# Each run of the gateway lasts SECONDS (more under qemu, where node starts slowly).
# Prints PASS/FAIL lines; writes "PASSED FAILED" to LOG_DIR/offline.counts.
set -uo pipefail

ROOT=$1
REPO=$2
LOG_DIR=$3
SECONDS_EACH=${4:-6}
CLI=$REPO/dist/src/cli/main.js
MQTT_PORT=1883
passed=0
failed=0
pids=()

# shellcheck disable=SC2317 # runs from the EXIT trap
finish() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  echo "$passed $failed" >"$LOG_DIR/offline.counts"
}
trap finish EXIT

# check NAME COMMAND...: one PASS or FAIL line.
check() {
  local name=$1
  shift
  if "$@" >>"$LOG_DIR/offline.log" 2>&1; then
    echo "PASS $name"; passed=$((passed + 1))
  else
    echo "FAIL $name (see $LOG_DIR/offline.log)"; failed=$((failed + 1))
  fi
}

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
# The daemon as the unit runs it: user floorgate, groups floorgate and dialout.
as_floorgate() {
  chroot --userspec=floorgate:floorgate --groups=floorgate,dialout "$ROOT" \
    /usr/bin/env -i PATH=/usr/bin:/bin HOME=/var/lib/floorgate LANG=C.UTF-8 "$@"
}
# Names as the root knows them (the host has no user floorgate).
mode_owner() { [ "$(in_root stat -c '%a %U:%G' "${@:2}" | paste -sd ' ')" = "$1" ]; }
fingerprint() { sha256sum "$ROOT/etc/floorgate/floorgate.yaml" | cut -d' ' -f1; }
# Runs the gateway for $1 seconds, then SIGTERM: it must stop cleanly (exit 0).
run_for() { timeout --preserve-status -s TERM "$1" chroot --userspec=floorgate:floorgate --groups=floorgate,dialout "$ROOT" \
  /usr/bin/env -i PATH=/usr/bin:/bin HOME=/var/lib/floorgate LANG=C.UTF-8 floorgate run -c /etc/floorgate/floorgate.yaml \
  >>"$LOG_DIR/gateway.log" 2>&1; }

ip link set lo up
check "no network: loopback is the only interface" test "$(ip -o link show | wc -l)" = 1

check "dpkg -i nodejs floorgate (offline)" in_root dpkg -i /tmp/nodejs.deb /tmp/floorgate.deb
check "the package holds no key and no demo data" sh -c "! chroot '$ROOT' dpkg -L floorgate | grep -E '\\.(pem|key)\$|floorgate-demo'"
check "user floorgate, in group dialout" sh -c "chroot '$ROOT' id -nG floorgate | tr ' ' '\n' | grep -qx dialout"
check "/var/lib/floorgate 0700 floorgate" mode_owner '700 floorgate:floorgate' /var/lib/floorgate
check "/etc/floorgate 0750 and floorgate.yaml 0640, group floorgate" \
  mode_owner '750 root:floorgate 640 root:floorgate' /etc/floorgate /etc/floorgate/floorgate.yaml
if [ -x "$ROOT/usr/bin/deb-systemd-helper" ]; then
  check "the unit is enabled at boot" test -L "$ROOT/etc/systemd/system/multi-user.target.wants/floorgate.service"
fi
check "floorgate check /etc/floorgate/floorgate.yaml (as shipped)" as_floorgate floorgate check -c /etc/floorgate/floorgate.yaml
check "the config names the installed schema, and floorgate schema prints it" sh -c \
  "head -1 '$ROOT/etc/floorgate/floorgate.yaml' | grep -qx '# yaml-language-server: \$schema=/usr/share/floorgate/floorgate.schema.json' &&
   chroot '$ROOT' floorgate schema | cmp -s - '$ROOT/usr/share/floorgate/floorgate.schema.json'"

mosquitto -p "$MQTT_PORT" >"$LOG_DIR/mosquitto.log" 2>&1 &
pids+=($!)
node "$CLI" sim modbus --port 0 >"$LOG_DIR/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q 'listening on' "$LOG_DIR/sim.log" && break; sleep 0.2; done
MODBUS_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\) .*/\1/p' "$LOG_DIR/sim.log")

# The site's own config, in place of the example: a changed conffile, which upgrades must keep.
cat >"$ROOT/etc/floorgate/floorgate.yaml" <<YAML
gateway:
  id: pkg-gw
  data_dir: /var/lib/floorgate
mqtt:
  url: mqtt://127.0.0.1:$MQTT_PORT
devices:
  - name: press-1
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${MODBUS_PORT:-0}
    poll_interval: 200ms
    tags:
      - { name: temperature, area: holding, address: 0, type: float32 }
      - { name: counter, area: holding, address: 2, type: uint32 }
YAML
CONFIG=$(fingerprint)

# What the broker delivers, judged independently of the gateway, across both runs.
node "$CLI" audit --url "mqtt://127.0.0.1:$MQTT_PORT" --gateway pkg-gw --duration 120s --json \
  --client-id package-test >"$LOG_DIR/audit.json" 2>"$LOG_DIR/audit.log" &
audit=$!
pids+=("$audit")
sleep 2

check "floorgate run as user floorgate, $SECONDS_EACH s, clean stop" run_for "$SECONDS_EACH"
check "the buffer is in /var/lib/floorgate" test -f "$ROOT/var/lib/floorgate/buffer.db"
check "dpkg -i over itself (upgrade)" in_root dpkg -i /tmp/floorgate.deb
check "the upgrade kept the config" test "$(fingerprint)" = "$CONFIG"
check "the upgrade kept the buffer" test -f "$ROOT/var/lib/floorgate/buffer.db"
check "floorgate run after the upgrade, $SECONDS_EACH s, clean stop" run_for "$SECONDS_EACH"

# Ctrl-C ends the audit with its report; what the gateway published is at the broker by now.
sleep 2
kill -INT "$audit"
wait "$audit"
check "every seq arrived upstream, from 1, across the upgrade" node -e '
  const report = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const gw = report.gateways["pkg-gw"];
  console.log(JSON.stringify({ messages: gw?.messages, firstSeq: gw?.firstSeq, lastSeq: gw?.lastSeq, missing: gw?.missing }));
  if (!gw || gw.firstSeq !== 1 || gw.missing !== 0 || gw.openGaps !== 0 || gw.messages < 10) process.exit(1);
' "$LOG_DIR/audit.json"
sed -n 's/^{"messages".*/upstream: &/p' "$LOG_DIR/offline.log" | tail -n 1

check "dpkg -r floorgate" in_root dpkg -r floorgate
check "remove: the program is gone" test ! -e "$ROOT/usr/lib/floorgate"
check "remove: the buffer and the config stay" test -f "$ROOT/var/lib/floorgate/buffer.db" -a -f "$ROOT/etc/floorgate/floorgate.yaml"
check "dpkg -P floorgate" in_root dpkg -P floorgate
check "purge: /var/lib/floorgate and /etc/floorgate are gone" test ! -e "$ROOT/var/lib/floorgate" -a ! -e "$ROOT/etc/floorgate"
[ "$failed" -eq 0 ]
