/**
 * A valid config and the typical slips made in it, for json-schema.test.ts: each variant
 * replaces the first `from` in BASE with `to`.
 */
export interface Variant {
  readonly what: string;
  readonly from: string;
  readonly to: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Stands for a file the test writes, readable by its owner only (password_file refuses others). */
export const SECRET_FILE = '$SECRET_FILE';

export const BASE = `gateway:
  id: line1-gw01
  data_dir: /var/lib/floorgate
log:
  level: info
mqtt:
  url: mqtts://broker.plant.local:8883
  username: gw01
  password: secret
  qos: 1
  format: json
  max_inflight: 64
  max_message_bytes: 128KB
  keepalive: 30s
  reconnect_min: 1s
  reconnect_max: 60s
buffer:
  max_bytes: 64MiB
  max_age: 7d
  when_full: drop_oldest
http:
  listen: 127.0.0.1:9102
x-tags: &tags
  tags:
    - { name: speed, area: holding, address: 0, type: uint16 }
devices:
  - name: press-1
    driver: modbus_tcp
    host: 192.168.10.21
    port: 502
    unit_id: 1
    poll_interval: 1s
    tags:
      - { name: temperature, area: holding, address: 100, type: float32, scale: 0.1 }
      - { name: alarm, area: holding, address: 7, type: bool, bit: 3 }
      - { name: recipe, area: holding, address: 200, type: string, length: 10 }
  - name: drive-1
    driver: modbus_rtu
    port: /dev/ttyUSB0
    baud_rate: 19200
    parity: even
    unit_id: 3
    <<: *tags
  - name: oven
    driver: opcua
    endpoint: opc.tcp://192.168.10.30:4840
    security_mode: SignAndEncrypt
    tags:
      - { name: zone1_temp, node_id: "ns=2;s=Oven.Zone1.Temperature", sampling_interval: 250ms }
  - name: scale-1
    driver: serial
    port: /dev/ttyUSB1
    pattern: '^(?<weight>[-+]?\\d+(\\.\\d+)?)kg$'
    request: "P\\r\\n"
    tags:
      - { name: weight, type: float64 }
`;

/** Slips `floorgate check` refuses (exit 78), which an editor with the schema must underline too. */
export const REFUSED_BY_BOTH: readonly Variant[] = [
  { what: 'a misspelt top-level key', from: 'buffer:', to: 'bufer:' },
  { what: 'a misspelt mqtt key', from: '  keepalive: 30s', to: '  keep_alive: 30s' },
  { what: 'a misspelt device key', from: '    unit_id: 1\n', to: '    unitid: 1\n' },
  { what: 'a misspelt tag key', from: 'address: 100', to: 'adress: 100' },
  { what: 'an unknown key in a merged template', from: '  tags:\n    - { name: speed', to: '  baudrate: 9600\n  tags:\n    - { name: speed' },
  { what: 'a top-level key that is neither known nor x-', from: 'x-tags:', to: 'templates:' },
  { what: 'a wrong enum: qos 3', from: 'qos: 1', to: 'qos: 3' },
  { what: 'a wrong enum: format', from: 'format: json', to: 'format: jsn' },
  { what: 'a wrong enum: log level', from: 'level: info', to: 'level: warning' },
  { what: 'a wrong enum: area', from: 'area: holding, address: 100', to: 'area: holdings, address: 100' },
  { what: 'a wrong enum: parity', from: 'parity: even', to: 'parity: evn' },
  { what: 'a wrong enum: security_mode', from: 'security_mode: SignAndEncrypt', to: 'security_mode: Encrypt' },
  { what: 'a bad duration: a unit spelt out', from: 'poll_interval: 1s', to: 'poll_interval: 1 sec' },
  { what: 'a bad duration: minutes as min', from: 'keepalive: 30s', to: 'keepalive: 5min' },
  { what: 'a bad duration: zero where it must be positive', from: 'poll_interval: 1s', to: 'poll_interval: 0s' },
  { what: 'a bad duration: negative', from: 'reconnect_min: 1s', to: 'reconnect_min: -1' },
  { what: 'a bad size: a unit spelt out', from: 'max_bytes: 64MiB', to: 'max_bytes: 64 Mbytes' },
  { what: 'a bad size: zero', from: 'max_bytes: 64MiB', to: 'max_bytes: 0' },
  { what: 'a string for a number: port', from: 'port: 502', to: 'port: five-oh-two' },
  { what: 'a string for a number: max_inflight', from: 'max_inflight: 64', to: 'max_inflight: lots' },
  { what: 'a string for a number: scale', from: 'scale: 0.1', to: 'scale: tenth' },
  { what: 'a string for true/false', from: 'security_mode: SignAndEncrypt', to: 'trust_on_first_use: yes please' },
  { what: 'a number out of range: unit_id', from: 'unit_id: 1\n', to: 'unit_id: 300\n' },
  { what: 'a number out of range: port', from: 'port: 502', to: 'port: 70000' },
  { what: 'a number out of range: bit', from: 'bit: 3', to: 'bit: 16' },
  { what: 'a fraction where an integer is needed', from: 'address: 100', to: 'address: 100.5' },
  { what: 'an unknown driver', from: 'driver: modbus_tcp', to: 'driver: modbus_tpc' },
  { what: 'a device without a driver', from: '    driver: modbus_tcp\n', to: '' },
  { what: 'a missing required key: gateway.id', from: '  id: line1-gw01\n', to: '' },
  { what: 'a missing required key: a tag\'s type', from: ', type: float64 }', to: ' }' },
  { what: 'a gateway id with a space', from: 'id: line1-gw01', to: 'id: line1 gw01' },
  { what: 'a device name with a /', from: 'name: press-1', to: 'name: line1/press-1' },
  { what: 'a broker URL with another scheme', from: 'url: mqtts://', to: 'url: https://' },
  { what: 'a listen address without a host', from: 'listen: 127.0.0.1:9102', to: 'listen: 9102' },
  { what: 'a Modbus host with its port', from: 'host: 192.168.10.21', to: 'host: 192.168.10.21:502' },
  { what: 'an OPC UA endpoint of another scheme', from: 'endpoint: opc.tcp://', to: 'endpoint: http://' },
  { what: 'an OPC UA node id without its kind', from: 'node_id: "ns=2;s=Oven', to: 'node_id: "ns=2;Oven' },
  { what: 'password and password_file both', from: '  password: secret\n', to: '  password: secret\n  password_file: /etc/floorgate/mqtt.password\n' },
  { what: 'a list where a value belongs', from: 'when_full: drop_oldest', to: 'when_full: [drop_oldest]' },
];

/** What the loader takes that a strict schema could wrongly refuse. */
export const TAKEN_BY_BOTH: readonly Variant[] = [
  { what: 'a ${VAR} where a number belongs', from: 'port: 502', to: 'port: ${PLC_PORT}', env: { PLC_PORT: '502' } },
  { what: 'a ${VAR:-default} where an enum belongs', from: 'qos: 1', to: 'qos: ${QOS:-1}' },
  { what: 'a ${VAR} inside a URL', from: 'url: mqtts://broker.plant.local:8883', to: 'url: mqtts://${BROKER:-broker}:8883' },
  { what: 'a ${VAR} as the gateway id', from: 'id: line1-gw01', to: 'id: ${GATEWAY_ID:-gw1}' },
  { what: 'password_file instead of password', from: '  password: secret\n', to: `  password_file: ${SECRET_FILE}\n` },
  { what: 'durations and sizes as numbers', from: 'max_bytes: 64MiB', to: 'max_bytes: 67108864\n  commit_interval: 250' },
  { what: 'fractional durations and lower-case size units', from: 'max_bytes: 64MiB', to: 'max_bytes: 64mib\n  commit_interval: 1.5s' },
  { what: 'keepalive 0 (off)', from: 'keepalive: 30s', to: 'keepalive: 0' },
  { what: 'http.listen false', from: 'listen: 127.0.0.1:9102', to: 'listen: false' },
  { what: 'an IPv6 Modbus host', from: 'host: 192.168.10.21', to: 'host: "fd00::21"' },
  { what: 'names as SCADA systems write them', from: 'name: temperature', to: 'name: "Zone1.Temp (°C)"' },
  { what: 'a second x- template', from: 'x-tags:', to: 'x-notes: { owner: line 1 }\nx-tags:' },
];

/**
 * Where the schema and the loader legitimately differ. `refuses`: rules across keys, devices
 * or files that JSON Schema cannot say (the editor misses them, `floorgate check` does not).
 * `takes`: what the loader accepts and the schema does not, on purpose.
 */
export const KNOWN_DIFFERENCES: readonly (Variant & { readonly loader: 'refuses' | 'takes' })[] = [
  { loader: 'refuses', what: 'two devices with one name', from: 'name: oven', to: 'name: press-1' },
  { loader: 'refuses', what: 'two tags of one device with one name', from: 'name: alarm', to: 'name: temperature' },
  { loader: 'refuses', what: 'the reserved device name status', from: 'name: oven', to: 'name: status' },
  { loader: 'refuses', what: 'reconnect_min above reconnect_max', from: 'reconnect_max: 60s', to: 'reconnect_max: 500ms' },
  { loader: 'refuses', what: 'format sparkplug_b without sparkplug', from: 'format: json', to: 'format: sparkplug_b' },
  { loader: 'refuses', what: 'a password without a username', from: '  username: gw01\n', to: '' },
  { loader: 'refuses', what: 'a string tag without length', from: 'type: string, length: 10', to: 'type: string' },
  { loader: 'refuses', what: 'bit on a tag that is not bool', from: 'type: bool, bit: 3', to: 'type: uint16, bit: 3' },
  { loader: 'refuses', what: 'a serial pattern without the tag\'s group', from: '(?<weight>', to: '(?<mass>' },
  { loader: 'refuses', what: 'a serial pattern that does not compile', from: "pattern: '^(?<weight>", to: "pattern: '^((?<weight>" },
  { loader: 'refuses', what: 'stale_after together with request', from: '    request: "P\\r\\n"\n', to: '    request: "P\\r\\n"\n    stale_after: 5s\n' },
  { loader: 'refuses', what: 'devices on one port that disagree', from: 'port: /dev/ttyUSB1', to: 'port: /dev/ttyUSB0' },
  { loader: 'refuses', what: 'a non-loopback listen address without allow_remote', from: 'listen: 127.0.0.1:9102', to: 'listen: 0.0.0.0:9102' },
  { loader: 'refuses', what: 'a size with a unit below the buffer\'s least', from: 'max_bytes: 64MiB', to: 'max_bytes: 1KiB' },
  { loader: 'refuses', what: 'an unset ${VAR} without a default', from: 'port: 502', to: 'port: ${UNSET_PORT}' },
  { loader: 'refuses', what: 'a password_file that is not there', from: '  password: secret\n', to: '  password_file: /nonexistent/mqtt.password\n' },
  { loader: 'refuses', what: 'a coil tag that is not bool', from: 'area: holding, address: 7, type: bool, bit: 3', to: 'area: coil, address: 7, type: uint16' },
  { loader: 'takes', what: 'a number in quotes', from: 'port: 502', to: 'port: "502"' },
  { loader: 'takes', what: 'a key with an empty value (not set)', from: '  qos: 1\n', to: '  qos:\n' },
];
