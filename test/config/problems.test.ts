/**
 * Malformed configs, one per row: each must produce exactly the listed problems, with their key
 * path, line, column and wording. Lines and columns are 1-based and were counted by hand.
 */
import { describe, expect, test } from 'vitest';
import { formatProblem, type ConfigProblem } from '../../src/config/load.js';
import { loadFloorgateConfigText } from '../../src/assembly.js';

type Expected = [path: string, line: number, col: number, message: string];

/** Lines 1–5: a valid head; the text given starts on line 6. */
const head = (rest: string) => `gateway:\n  id: gw1\nmqtt:\n  url: mqtt://127.0.0.1:1883\n${rest}`;
/** Lines 1–4 as head(); the given mqtt lines start on line 5 (indent them by 2). */
const withMqtt = (lines: string) => `gateway:\n  id: gw1\nmqtt:\n  url: mqtt://127.0.0.1:1883\n${lines}devices: []\n`;
/** Lines 1–5 valid, the given line 6 at top level. */
const topLevel = (line: string) => head(`devices: []\n${line}\n`);
/** Devices start on line 6. */
const devices = (lines: string) => head(`devices:\n${lines}`);
/** A modbus_tcp device: name on line 6, driver 7, host 8, then `extra` lines, then tags. */
const tcp = (extra: string, tags: string) =>
  devices(`  - name: plc\n    driver: modbus_tcp\n    host: 127.0.0.1\n${extra}    tags:\n${tags}`);
/** A block-style tag on lines 10–13 (name, area, address, type), plus `extra` from line 14. */
const tag = (area: string, address: number | string, type: string, extra = '') =>
  tcp('', `      - name: t\n        area: ${area}\n        address: ${address}\n        type: ${type}\n${extra}`);
const flowTag = '[{ name: t, area: holding, address: 0, type: uint16 }]';

const cases: { name: string; text: string; problems: Expected[] }[] = [
  // YAML itself
  { name: 'unclosed flow sequence', text: 'gateway: [a\nmqtt: x\n',
    problems: [['(root)', 2, 1, 'Flow sequence in block collection must be sufficiently indented and end with a ]']] },
  { name: 'tab indentation', text: 'gateway:\n\tid: x\n', problems: [['(root)', 2, 1, 'Tabs are not allowed as indentation']] },
  { name: 'two documents', text: 'gateway:\n  id: gw1\n---\nx: 1\n',
    problems: [['(root)', 3, 1, 'a config file holds one YAML document: remove the second "---"']] },
  { name: 'duplicate key, at the second', text: 'gateway:\n  id: gw1\n  id: gw2\nmqtt:\n  url: mqtt://h\ndevices: []\n',
    problems: [['gateway.id', 3, 3, 'duplicate key "id" (first on line 2)']] },
  { name: 'empty file', text: '', problems: [['(root)', 1, 1, 'the file is empty: it needs gateway, mqtt and devices']] },
  { name: 'root is a list', text: '- a\n', problems: [['(root)', 1, 1, 'expected a mapping, got a list']] },

  // top level and gateway
  { name: 'missing key, at the mapping', text: 'gateway:\n  data_dir: /tmp/x\nmqtt:\n  url: mqtt://h\ndevices: []\n',
    problems: [['gateway.id', 2, 3, 'missing required key "id"']] },
  { name: 'missing section, at the root mapping', text: '# a comment first\ngateway:\n  id: gw1\ndevices: []\n',
    problems: [['mqtt', 2, 1, 'missing required key "mqtt"']] },
  { name: 'unknown top-level key', text: topLevel('colour: blue'), problems: [['colour', 6, 1, 'unknown key "colour"']] },
  { name: 'unknown key with a suggestion', text: topLevel('buffer: { max_byte: 1MiB }'),
    problems: [['buffer.max_byte', 6, 11, 'unknown key "max_byte"; did you mean "max_bytes"?']] },
  { name: 'gateway id with a space', text: 'gateway:\n  id: line 1\nmqtt:\n  url: mqtt://h\ndevices: []\n',
    problems: [['gateway.id', 2, 7, 'invalid name "line 1": use only letters, digits, _ and -']] },
  { name: 'devices not a list', text: head('devices: {}\n'), problems: [['devices', 5, 10, 'expected a list, got a mapping']] },

  // mqtt
  { name: 'unset ${VAR} without default, and nothing more about that value',
    text: 'gateway:\n  id: gw1\nmqtt:\n  url: ${BROKER_URL}\ndevices: []\n',
    problems: [['mqtt.url', 4, 8, 'environment variable BROKER_URL is not set (write ${BROKER_URL:-default} to give a default)']] },
  { name: 'url scheme', text: 'gateway:\n  id: gw1\nmqtt:\n  url: http://h\ndevices: []\n',
    problems: [['mqtt.url', 4, 8, 'unsupported scheme "http": use mqtt://, mqtts://, ws:// or wss://']] },
  { name: 'url unparsable', text: 'gateway:\n  id: gw1\nmqtt:\n  url: not a url\ndevices: []\n',
    problems: [['mqtt.url', 4, 8, 'invalid URL "not a url": use e.g. mqtts://broker.plant.local:8883']] },
  { name: 'qos 3', text: withMqtt('  qos: 3\n'), problems: [['mqtt.qos', 5, 8, '3 is not one of 0, 1, 2']] },
  { name: 'max_inflight 0', text: withMqtt('  max_inflight: 0\n'),
    problems: [['mqtt.max_inflight', 5, 17, 'must be an integer from 1 to 65535, got 0']] },
  { name: 'format enum', text: withMqtt('  format: xml\n'), problems: [['mqtt.format', 5, 11, '"xml" is not one of json, sparkplug_b']] },
  { name: 'sparkplug_b without sparkplug', text: withMqtt('  format: sparkplug_b\n'),
    problems: [['mqtt.sparkplug', 4, 3, 'format sparkplug_b needs sparkplug: {group_id: ...}']] },
  { name: 'sparkplug id with a slash', text: withMqtt('  format: sparkplug_b\n  sparkplug: { group_id: a/b }\n'),
    problems: [['mqtt.sparkplug.group_id', 6, 26, 'invalid Sparkplug id "a/b": must be non-empty without /, + or #']] },
  { name: 'reconnect_max below reconnect_min', text: withMqtt('  reconnect_min: 2m\n  reconnect_max: 1m\n'),
    problems: [['mqtt.reconnect_max', 6, 18, 'must not be shorter than reconnect_min']] },
  { name: 'password without username', text: withMqtt('  password: x\n'),
    problems: [['mqtt.password', 5, 13, 'a password needs a username']] },
  { name: 'password and password_file', text: withMqtt('  username: u\n  password: x\n  password_file: /nonexistent/pw\n'),
    problems: [['mqtt.password_file', 7, 3, 'use either password or password_file, not both']] },
  { name: 'password_file missing', text: withMqtt('  username: u\n  password_file: /nonexistent/floorgate-test/pw\n'),
    problems: [['mqtt.password_file', 6, 3, 'cannot read /nonexistent/floorgate-test/pw: no such file']] },

  // buffer, http
  { name: 'size', text: topLevel('buffer: { max_bytes: 5 megs }'),
    problems: [['buffer.max_bytes', 6, 22, 'invalid size "5 megs": use a number of bytes or e.g. 512MiB, 2GB']] },
  { name: 'buffer too small', text: topLevel('buffer: { max_bytes: 64KiB }'),
    problems: [['buffer.max_bytes', 6, 22, 'must be at least 262144 bytes, got "64KiB"']] },
  { name: 'clock sync source neither kernel nor an absolute path', text: topLevel('clock: { sync_source: run/synced }'),
    problems: [['clock.sync_source', 6, 23, 'must be kernel or an absolute file path, got "run/synced"']] },
  { name: 'duration', text: topLevel('buffer: { max_age: 5 sec }'),
    problems: [['buffer.max_age', 6, 20, 'invalid duration "5 sec": use a number of milliseconds or e.g. 250ms, 5s, 2m, 7d']] },
  { name: 'zero interval', text: topLevel('buffer: { commit_interval: 0 }'),
    problems: [['buffer.commit_interval', 6, 28, 'must be greater than 0, got 0']] },
  { name: 'when_full enum', text: topLevel('buffer: { when_full: block }'),
    problems: [['buffer.when_full', 6, 22, '"block" is not one of drop_oldest, drop_newest']] },
  { name: 'remote listen without allow_remote', text: topLevel('http: { listen: 0.0.0.0:9102 }'),
    problems: [['http.listen', 6, 17, '0.0.0.0 is not a loopback address: set http.allow_remote: true to serve /metrics and /healthz (no authentication) beyond this host']] },
  { name: 'listen not HOST:PORT', text: topLevel('http: { listen: 9102 }'),
    problems: [['http.listen', 6, 17, 'invalid listen address 9102: use HOST:PORT (e.g. 127.0.0.1:9102, [::1]:9102) or false']] },

  // devices
  { name: 'device not a mapping', text: devices('  - plc\n'), problems: [['devices[0]', 6, 5, 'expected a mapping, got "plc"']] },
  { name: 'unknown driver', text: devices(`  - name: plc\n    driver: modbus_tpc\n    tags: []\n`),
    problems: [['devices[0].driver', 7, 13, 'unknown driver "modbus_tpc"; known drivers: modbus_tcp, modbus_rtu, opcua, serial; did you mean "modbus_tcp"?']] },
  { name: 'missing driver', text: devices('  - name: plc\n    host: h\n'),
    problems: [['devices[0].driver', 6, 5, 'missing required key "driver" (one of modbus_tcp, modbus_rtu, opcua, serial)']] },
  { name: 'duplicate device name, at the second',
    text: devices(`  - name: plc\n    driver: modbus_tcp\n    host: a\n    tags: ${flowTag}\n  - name: plc\n    driver: modbus_tcp\n    host: b\n    tags: ${flowTag}\n`),
    problems: [['devices[1].name', 10, 11, 'duplicate device name "plc" (first at devices[0].name)']] },
  { name: 'reserved device name', text: devices(`  - name: status\n    driver: modbus_tcp\n    host: a\n    tags: ${flowTag}\n`),
    problems: [['devices[0].name', 6, 11, 'the device name "status" is reserved (the status topic uses it)']] },
  { name: 'unknown device key', text: tcp('    unitid: 2\n', `      - ${flowTag.slice(1, -1)}\n`),
    problems: [['devices[0].unitid', 9, 5, 'unknown key "unitid"; did you mean "unit_id"?']] },
  { name: 'tcp unit_id 256', text: tcp('    unit_id: 256\n', `      - ${flowTag.slice(1, -1)}\n`),
    problems: [['devices[0].unit_id', 9, 14, 'must be an integer from 0 to 255, got 256']] },
  { name: 'port not a number', text: tcp('    port: abc\n', `      - ${flowTag.slice(1, -1)}\n`),
    problems: [['devices[0].port', 9, 11, 'expected a number, got "abc"']] },
  { name: 'max_registers_per_read 126', text: tcp('    max_registers_per_read: 126\n', `      - ${flowTag.slice(1, -1)}\n`),
    problems: [['devices[0].max_registers_per_read', 9, 29, 'must be an integer from 1 to 125, got 126']] },
  { name: 'device poll_interval', text: tcp('    poll_interval: 5 sec\n', `      - ${flowTag.slice(1, -1)}\n`),
    problems: [['devices[0].poll_interval', 9, 20, 'invalid duration "5 sec": use a number of milliseconds or e.g. 250ms, 5s, 2m, 7d']] },
  { name: 'no tags key', text: devices('  - name: plc\n    driver: modbus_tcp\n    host: h\n'),
    problems: [['devices[0].tags', 6, 5, 'missing required key "tags"']] },
  { name: 'empty tag list', text: devices('  - name: plc\n    driver: modbus_tcp\n    host: h\n    tags: []\n'),
    problems: [['devices[0].tags', 9, 11, 'a device needs at least one tag']] },

  // modbus tags
  { name: 'tag typo', text: tag('holding', 0, 'uint16', '        adress: 5\n'),
    problems: [['devices[0].tags[0].adress', 14, 9, 'unknown key "adress"; did you mean "address"?']] },
  { name: 'area enum', text: tag('holdng', 0, 'uint16'),
    problems: [['devices[0].tags[0].area', 11, 15, '"holdng" is not one of holding, input, coil, discrete; did you mean "holding"?']] },
  { name: 'address out of range', text: tag('holding', 70000, 'uint16'),
    problems: [['devices[0].tags[0].address', 12, 18, 'must be an integer from 0 to 65535, got 70000']] },
  { name: 'address + width past 65535', text: tag('holding', 65535, 'uint32'),
    problems: [['devices[0].tags[0].address', 12, 18, 'uint32 at address 65535 spans 2 registers and runs past 65535']] },
  { name: 'string without length, at the tag mapping', text: tag('holding', 0, 'string'),
    problems: [['devices[0].tags[0].length', 10, 9, 'type string needs length (in registers, two characters each)']] },
  { name: 'length on a non-string', text: tag('holding', 0, 'uint16', '        length: 4\n'),
    problems: [['devices[0].tags[0].length', 14, 17, 'length applies only to type string, not uint16']] },
  { name: 'coil not bool', text: tag('coil', 0, 'float32'),
    problems: [['devices[0].tags[0].type', 13, 15, 'coil tags must be type bool, not float32']] },
  { name: 'bit on a non-bool', text: tag('holding', 0, 'uint16', '        bit: 3\n'),
    problems: [['devices[0].tags[0].bit', 14, 14, 'bit applies only to type bool on a holding or input register']] },
  { name: 'bit 16', text: tag('holding', 0, 'bool', '        bit: 16\n'),
    problems: [['devices[0].tags[0].bit', 14, 14, 'must be an integer from 0 to 15, got 16']] },
  { name: 'writable input register', text: tag('input', 0, 'uint16', '        writable: true\n'),
    problems: [['devices[0].tags[0].writable', 14, 19, 'input is read-only; only holding and coil tags can be writable']] },
  { name: 'scale on a bool', text: tag('coil', 0, 'bool', '        scale: 2\n'),
    problems: [['devices[0].tags[0].scale', 14, 16, 'scale applies only to numeric types, not bool']] },
  { name: 'tag name with a slash, with the dotted and the underscored name suggested',
    text: tcp('', '      - { name: Zone1/Temp, area: holding, address: 0, type: uint16 }\n'),
    problems: [['devices[0].tags[0].name', 10, 17,
      'invalid name "Zone1/Temp": "/" cannot be part of a name (names become MQTT topic levels); use e.g. "Zone1.Temp" or "Zone1_Temp"']] },
  { name: 'device name with MQTT wildcards', text: devices(`  - name: line+1#\n    driver: modbus_tcp\n    host: a\n    tags: ${flowTag}\n`),
    problems: [['devices[0].name', 6, 11, 'invalid name "line+1#": "+", "#" cannot be part of a name (names become MQTT topic levels); use e.g. "line_1_"']] },
  { name: 'tag name with a control character', text: tcp('', '      - { name: "a\\tb", area: holding, address: 0, type: uint16 }\n'),
    problems: [['devices[0].tags[0].name', 10, 17, 'invalid name "a\\tb": "\\t" cannot be part of a name (names become MQTT topic levels); use e.g. "a_b"']] },
  { name: 'empty tag name', text: tcp('', '      - { name: "", area: holding, address: 0, type: uint16 }\n'),
    problems: [['devices[0].tags[0].name', 10, 17, 'a name must not be empty']] },
  { name: 'duplicate tag name, at the second',
    text: tcp('', '      - { name: t, area: holding, address: 0, type: uint16 }\n      - { name: t, area: holding, address: 1, type: uint16 }\n'),
    problems: [['devices[0].tags[1].name', 11, 17, 'duplicate tag name "t" (first at devices[0].tags[0].name)']] },

  // modbus_rtu and shared lines
  { name: 'rtu unit_id 0',
    text: devices(`  - name: drive\n    driver: modbus_rtu\n    port: /dev/ttyUSB0\n    unit_id: 0\n    tags: ${flowTag}\n`),
    problems: [['devices[0].unit_id', 9, 14, 'must be an integer from 1 to 247, got 0']] },
  { name: 'parity enum',
    text: devices(`  - name: drive\n    driver: modbus_rtu\n    port: /dev/ttyUSB0\n    parity: evn\n    tags: ${flowTag}\n`),
    problems: [['devices[0].parity', 9, 13, '"evn" is not one of none, even, odd; did you mean "even"?']] },
  { name: 'shared line with another baud rate',
    text: devices(`  - name: a\n    driver: modbus_rtu\n    port: /dev/ttyUSB0\n    tags: ${flowTag}\n` +
      `  - name: b\n    driver: modbus_rtu\n    port: /dev/ttyUSB0\n    unit_id: 2\n    baud_rate: 19200\n    tags: ${flowTag}\n`),
    problems: [['devices[1].baud_rate', 14, 16, 'device "a" on the same port /dev/ttyUSB0 has baud_rate 9600; devices sharing a line must agree']] },
  { name: 'shared line, same unit id',
    text: devices(`  - name: a\n    driver: modbus_rtu\n    port: /dev/ttyUSB0\n    tags: ${flowTag}\n` +
      `  - name: b\n    driver: modbus_rtu\n    port: /dev/ttyUSB0\n    tags: ${flowTag}\n`),
    problems: [['devices[1].unit_id', 10, 5, 'device "a" on the same port /dev/ttyUSB0 already has unit_id 1']] },

  { name: 'a serial instrument cannot share a line',
    text: devices(`  - name: a\n    driver: modbus_rtu\n    port: /dev/ttyUSB0\n    tags: ${flowTag}\n` +
      `  - name: b\n    driver: serial\n    port: /dev/ttyUSB0\n    pattern: '(?<w>\\d+)'\n    tags: [{ name: w, type: int64 }]\n`),
    problems: [['devices[1].port', 12, 11, '/dev/ttyUSB0 is already used by device "a"; only addressed devices (with unit_id) can share a line']] },
  { name: 'host with a port', text: devices(`  - name: plc\n    driver: modbus_tcp\n    host: 10.0.0.5:502\n    tags: ${flowTag}\n`),
    problems: [['devices[0].host', 8, 11, 'invalid host "10.0.0.5:502": give a name or address only, the port goes in port:']] },

  // opcua
  { name: 'opcua node id', text: devices('  - name: oven\n    driver: opcua\n    endpoint: opc.tcp://127.0.0.1:4840\n    tags:\n      - name: z\n        node_id: Oven.Zone1\n'),
    problems: [['devices[0].tags[0].node_id', 11, 18, 'invalid node id "Oven.Zone1": use e.g. ns=2;s=Oven.Zone1.Temperature or i=2258']] },
  { name: 'opcua mode', text: devices('  - name: oven\n    driver: opcua\n    endpoint: opc.tcp://127.0.0.1:4840\n    tags:\n      - name: z\n        node_id: i=2258\n        mode: pol\n'),
    problems: [['devices[0].tags[0].mode', 12, 15, '"pol" is not one of subscribe, poll; did you mean "poll"?']] },
  { name: 'opcua endpoint', text: devices('  - name: oven\n    driver: opcua\n    endpoint: http://x\n    tags: [{ name: z, node_id: i=2258 }]\n'),
    problems: [['devices[0].endpoint', 8, 15, 'invalid endpoint "http://x": use opc.tcp://HOST:PORT[/path]']] },
  { name: 'opcua security_mode case', text: devices('  - name: oven\n    driver: opcua\n    endpoint: opc.tcp://h:4840\n    security_mode: sign\n    tags: [{ name: z, node_id: i=2258 }]\n'),
    problems: [['devices[0].security_mode', 9, 20, '"sign" is not one of None, Sign, SignAndEncrypt, auto; did you mean "Sign"?']] },
  { name: 'opcua security_policy None with Sign', text: devices('  - name: oven\n    driver: opcua\n    endpoint: opc.tcp://h:4840\n    security_mode: Sign\n    security_policy: None\n    tags: [{ name: z, node_id: i=2258 }]\n'),
    problems: [['devices[0].security_policy', 10, 22, 'security_policy None means no security, which security_mode Sign cannot have: name a policy (Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss) or auto, or set security_mode: None']] },

  // serial
  { name: 'serial pattern does not compile', text: devices(`  - name: scale\n    driver: serial\n    port: /dev/ttyUSB1\n    pattern: '(?<w>\\d+'\n    tags: [{ name: w, type: float64 }]\n`),
    problems: [['devices[0].pattern', 9, 14, 'Invalid regular expression: /(?<w>\\d+/: Unterminated group']] },
  { name: 'serial group not in pattern', text: devices(`  - name: scale\n    driver: serial\n    port: /dev/ttyUSB1\n    pattern: '(?<w>\\d+)'\n    tags: [{ name: x, group: weight, type: float64 }]\n`),
    problems: [['devices[0].tags[0].group', 10, 30, 'pattern has no named group "weight" (its groups: w)']] },
  { name: 'serial tag whose name cannot be a group name', text: devices(`  - name: scale\n    driver: serial\n    port: /dev/ttyUSB1\n    pattern: '(?<w>\\d+)'\n    tags: [{ name: Zone1.W, type: float64 }]\n`),
    problems: [['devices[0].tags[0].name', 10, 20, 'pattern has no named group "Zone1.W" (its groups: w); a group name is letters, digits and _: set group: to the group this tag reads']] },
  { name: 'serial stale_after with a request', text: devices(`  - name: scale\n    driver: serial\n    port: /dev/ttyUSB1\n    pattern: '(?<w>\\d+)'\n    request: "SI\\r\\n"\n    stale_after: 5s\n    tags: [{ name: w, type: float64 }]\n`),
    problems: [['devices[0].stale_after', 11, 18, 'stale_after applies to a listen-only device; with request, timeout bounds every answer']] },
  { name: 'serial tag without type, at the tag mapping', text: devices(`  - name: scale\n    driver: serial\n    port: /dev/ttyUSB1\n    pattern: '(?<w>\\d+)'\n    tags: [{ name: w }]\n`),
    problems: [['devices[0].tags[0].type', 10, 12, 'missing required key "type"']] },
];

describe('every malformed config is reported at its key path, line and column', () => {
  test.each(cases)('$name', ({ text, problems }) => {
    const result = loadFloorgateConfigText(text, 'c.yaml', {});
    expect(result.ok).toBe(false);
    const got = result.ok ? [] : result.problems.map((p): Expected => [p.path, p.line, p.col, p.message]);
    expect(got).toEqual(problems);
    if (!result.ok) expect(result.problems.every((p) => p.file === 'c.yaml')).toBe(true);
  });
});

test('there are at least 30 rows', () => {
  expect(cases.length).toBeGreaterThanOrEqual(30);
});

test('every problem is reported, not just the first, in document order', () => {
  const text = head(`devices:\n  - name: a\n    driver: modbus_tcp\n    host: h\n    port: x\n    tags:\n      - { name: t, area: coil, address: 0, type: int16, bogus: 1 }\nbuffer: { sync: sometimes }\n`);
  const result = loadFloorgateConfigText(text, 'c.yaml', {});
  expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([
    'c.yaml:9:11: devices[0].port: expected a number, got "x"',
    'c.yaml:11:50: devices[0].tags[0].type: coil tags must be type bool, not int16',
    'c.yaml:11:57: devices[0].tags[0].bogus: unknown key "bogus"',
    'c.yaml:12:17: buffer.sync: "sometimes" is not one of normal, full',
  ]);
});

test('formatProblem gives FILE:LINE:COL: path: message', () => {
  const p: ConfigProblem = { file: 'a.yaml', line: 3, col: 7, path: 'devices[0].tags[2].address', message: 'bad' };
  expect(formatProblem(p)).toBe('a.yaml:3:7: devices[0].tags[2].address: bad');
});

test('a misspelt password_file is suggested', () => {
  const result = loadFloorgateConfigText(withMqtt('  username: u\n  pasword_file: /x\n'), 'c.yaml', {});
  expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([
    'c.yaml:6:3: mqtt.pasword_file: unknown key "pasword_file"; did you mean "password_file"?',
  ]);
});
