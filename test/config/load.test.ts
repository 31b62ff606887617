import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, expectTypeOf, test } from 'vitest';
import { formatProblem, loadConfig, type ConfigProblem, type LoadContext, type LoadResult } from '../../src/config/load.js';
import { loadFloorgateConfig, loadFloorgateConfigText } from '../../src/assembly.js';
import type { FloorgateConfig } from '../../src/config/types.js';
import type { ModbusTcpDevice, ModbusTag } from '../../drivers/modbus/schema.js';
import type { OpcuaDevice } from '../../drivers/opcua/schema.js';
import type { SerialDevice } from '../../drivers/serial/schema.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-config-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function secretFile(name: string, content: string, mode = 0o600): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, content);
  fs.chmodSync(file, mode);
  return file;
}

function ok(result: LoadResult): FloorgateConfig {
  if (!result.ok) throw new Error(`expected a valid config, got:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.config;
}

function problems(result: LoadResult): string[] {
  return result.ok ? [] : result.problems.map(formatProblem);
}

/** The example block of reference §2, verbatim but for the two secret files. */
const specExample = (mqttPassword: string, opcuaPassword: string) => `
gateway:
  id: line1-gw01              # [a-zA-Z0-9_-]+; used in topics and as the MQTT client id
  data_dir: /var/lib/floorgate

mqtt:
  url: mqtts://broker.plant.local:8883   # mqtt:// mqtts:// ws:// wss://
  client_id: line1-gw01                  # default: gateway.id
  username: gw01
  password_file: ${mqttPassword}   # or password: \${MQTT_PASSWORD}
  tls: { ca: /etc/floorgate/ca.pem, cert: /etc/floorgate/gw.pem, key: /etc/floorgate/gw.key }
  qos: 1                                 # 1 (default) or 2; 0 is allowed but gives no guarantee
  format: json                           # json | sparkplug_b
  topic_prefix: floorgate                # json format only
  max_inflight: 64
  publish: per_device                    # per_device (batched) | per_tag
  json_layout: readings                  # per_device JSON: readings (default) | compact (§3)

buffer:
  max_bytes: 512MiB          # hard cap on disk
  max_age: 7d                # older readings are dropped (and counted)
  when_full: drop_oldest     # drop_oldest | drop_newest
  sync: normal               # normal: survives a process crash; full: also survives power loss
  commit_interval: 100ms     # longest a reading waits in memory before it is committed
  replay: live_first         # live_first: live data goes out at once while the backlog drains
                             # beside it | in_order: the whole backlog first, then live data
  replay_rate: 0             # most backlog messages per second (0: as fast as the broker acks)

http:
  listen: 127.0.0.1:9102     # /healthz and /metrics; \`false\` turns it off

devices:
  - name: press-1
    driver: modbus_tcp
    host: 192.168.10.21
    port: 502
    unit_id: 1
    poll_interval: 1s
    timeout: 1s
    byte_order: ABCD          # device default for 32/64-bit values: ABCD (default) | BADC | CDAB | DCBA
    max_registers_per_read: 125
    max_gap: 16               # registers read over (and discarded) to merge two blocks
    tags:
      - { name: temperature, area: holding, address: 100, type: float32, scale: 0.1, deadband: 0.5 }
      - { name: cycle_count, area: input, address: 10, type: uint32, byte_order: CDAB }
      - { name: running, area: coil, address: 12, type: bool }
      - { name: alarm_bit3, area: holding, address: 7, type: bool, bit: 3 }
      - { name: recipe, area: holding, address: 200, type: string, length: 10 }
      - { name: pressure, area: holding, address: 300, type: int16, poll_interval: 200ms }

  - name: drives
    driver: modbus_rtu
    port: /dev/ttyUSB0
    baud_rate: 19200
    parity: even              # none | even | odd
    data_bits: 8
    stop_bits: 1
    unit_id: 3                # several devices may share one port; floorgate serialises the bus
    poll_interval: 2s
    tags:
      - { name: speed, area: holding, address: 0, type: uint16 }

  - name: oven
    driver: opcua
    endpoint: opc.tcp://192.168.10.30:4840
    security_mode: SignAndEncrypt       # None (default) | Sign | SignAndEncrypt
    security_policy: Basic256Sha256     # default Basic256Sha256 when signing; ignored for None
    username: floorgate
    password_file: ${opcuaPassword}
    pki_dir: /var/lib/floorgate/pki     # default {data_dir}/pki; own certificate created on first start
    poll_interval: 1s                   # default for the device's poll-mode tags
    tags:
      - { name: zone1_temp, node_id: "ns=2;s=Oven.Zone1.Temperature", mode: subscribe, sampling_interval: 250ms, deadband: 0.2 }
      - { name: batch_id, node_id: "ns=2;s=Oven.BatchId", mode: poll, poll_interval: 5s }

  - name: scale-1
    driver: serial
    port: /dev/ttyUSB1
    baud_rate: 9600
    delimiter: "\\r\\n"
    pattern: '^ST,GS,\\s*(?<weight>[-+]?\\d+(\\.\\d+)?)\\s*kg$'   # named groups become tags;
                                        # every matching line is one reading per tag
    stale_after: 5s                     # listen only: tags bad after 5 s without a matching line
    tags:
      - { name: weight, group: weight, type: float64 }
`;

/** Lines 1–4; the text given starts on line 5. */
const minimal = (rest = 'devices: []\n') => `gateway:\n  id: gw1\nmqtt:\n  url: mqtt://127.0.0.1:1883\n${rest}`;
const oneTcpDevice = (deviceLines: string, tagLines: string) =>
  minimal(`devices:\n  - name: plc\n    driver: modbus_tcp\n    host: 127.0.0.1\n${deviceLines}    tags:\n${tagLines}`);

describe('the reference §2 example', () => {
  const config = ok(loadFloorgateConfigText(
    specExample(secretFile('mqtt.password', 's3cret\n'), secretFile('opcua.password', 'opc-pw\r\n')),
    path.join(tmp, 'floorgate.yaml'),
    {},
  ));

  test('is valid and normalised', () => {
    expect(config.source).toBe(path.join(tmp, 'floorgate.yaml'));
    expect(config.gateway).toEqual({ id: 'line1-gw01', data_dir: '/var/lib/floorgate' });
    expect(config.mqtt).toMatchObject({
      url: 'mqtts://broker.plant.local:8883', client_id: 'line1-gw01', username: 'gw01', password: 's3cret',
      tls: { ca: '/etc/floorgate/ca.pem', cert: '/etc/floorgate/gw.pem', key: '/etc/floorgate/gw.key', insecure: false },
      qos: 1, format: 'json', topic_prefix: 'floorgate', max_inflight: 64, publish: 'per_device', json_layout: 'readings',
      keepalive: 30_000, reconnect_min: 1000, reconnect_max: 60_000,
    });
    expect(config.buffer).toEqual({
      max_bytes: 512 * 1024 * 1024, max_age: 7 * 24 * 3600 * 1000, when_full: 'drop_oldest', sync: 'normal',
      commit_interval: 100, replay: 'live_first', replay_rate: 0,
    });
    expect(config.http).toEqual({ listen: { host: '127.0.0.1', port: 9102 }, allow_remote: false });
    expect(config.log).toEqual({ level: 'info' });
    expect(config.devices.map((d) => [d.name, d.driver, d.tags.length])).toEqual([
      ['press-1', 'modbus_tcp', 6], ['drives', 'modbus_rtu', 1], ['oven', 'opcua', 2], ['scale-1', 'serial', 1],
    ]);
  });

  test('modbus tags carry their own or their device defaults', () => {
    const press = config.devices[0] as ModbusTcpDevice;
    expect(press).toMatchObject({ host: '192.168.10.21', port: 502, unit_id: 1, timeout: 1000, max_bits_per_read: 2000 });
    const byName = Object.fromEntries(press.tags.map((t) => [t.name, t]));
    expect(byName.temperature).toEqual({
      name: 'temperature', area: 'holding', address: 100, type: 'float32', scale: 0.1, offset: 0, deadband: 0.5,
      writable: false, poll_interval: 1000, byte_order: 'ABCD',
    });
    expect(byName.cycle_count.byte_order).toBe('CDAB');
    expect(byName.pressure.poll_interval).toBe(200);
    expect(byName.alarm_bit3.bit).toBe(3);
    expect(byName.recipe.length).toBe(10);
    expect(config.devices[1]).toMatchObject({ port: '/dev/ttyUSB0', baud_rate: 19200, parity: 'even', unit_id: 3, poll_interval: 2000 });
  });

  test('the opcua password comes from its file without the trailing CRLF; sampling defaults to poll_interval', () => {
    const oven = config.devices[2] as OpcuaDevice;
    expect(oven).toMatchObject({
      password: 'opc-pw', username: 'floorgate', security_mode: 'SignAndEncrypt', pki_dir: '/var/lib/floorgate/pki',
      trust_on_first_use: false,
    });
    expect(oven.tags[0]).toMatchObject({ mode: 'subscribe', sampling_interval: 250, queue_size: 10, poll_interval: 1000, deadband: 0.2 });
    expect(oven.tags[1]).toMatchObject({ mode: 'poll', poll_interval: 5000, sampling_interval: 5000 });
    expect('password_file' in oven).toBe(false);
  });

  test('the serial device keeps its pattern and delimiter', () => {
    const scale = config.devices[3] as SerialDevice;
    expect(scale).toMatchObject({ delimiter: '\r\n', baud_rate: 9600, parity: 'none', data_bits: 8, stop_bits: 1, stale_after: 5000 });
    expect(new RegExp(scale.pattern).exec('ST,GS,  12.5 kg')?.groups?.weight).toBe('12.5');
    expect(scale.tags[0]).toMatchObject({ group: 'weight', type: 'float64', poll_interval: 1000 });
  });

  test('is deep-frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.mqtt.tls)).toBe(true);
    expect(Object.isFrozen(config.devices)).toBe(true);
    expect(Object.isFrozen(config.devices[0].tags[0])).toBe(true);
    expect(() => {
      (config.devices[0].tags[0] as unknown as { address: number }).address = 5;
    }).toThrow(TypeError);
  });
});

describe('the shipped config files', () => {
  test('config/floorgate.example.yaml is valid with no environment set', () => {
    const config = ok(loadFloorgateConfig('config/floorgate.example.yaml', {}));
    expect(config.mqtt.password).toBe('changeme');
    expect(config.mqtt.sparkplug).toEqual({ group_id: 'line1', edge_node_id: 'line1-gw01', primary_host_id: 'scada-primary' });
    expect((config.devices[2] as OpcuaDevice).pki_dir).toBe('/var/lib/floorgate/pki');
  });

  test('config/demo.yaml is valid; its ports come from the environment, with defaults', () => {
    const defaults = ok(loadFloorgateConfig('config/demo.yaml', {}));
    expect(defaults.gateway).toEqual({ id: 'demo-gw', data_dir: path.resolve('config/.floorgate-demo') });
    expect(defaults.mqtt.url).toBe('mqtt://127.0.0.1:1883');
    expect(defaults.http.listen).toEqual({ host: '127.0.0.1', port: 9102 });
    const press = defaults.devices[0] as ModbusTcpDevice;
    expect(press).toMatchObject({ name: 'press-1', host: '127.0.0.1', port: 5020, poll_interval: 1000 });
    expect(press.tags.length).toBeGreaterThanOrEqual(10);

    const env = { DEMO_MQTT_PORT: '41883', DEMO_MODBUS_PORT: '45020', DEMO_HTTP_PORT: '49102' };
    const set = ok(loadFloorgateConfig('config/demo.yaml', env));
    expect(set.mqtt.url).toBe('mqtt://127.0.0.1:41883');
    expect((set.devices[0] as ModbusTcpDevice).port).toBe(45020);
    expect(set.http.listen).toEqual({ host: '127.0.0.1', port: 49102 });
  });
});

describe('environment substitution', () => {
  const url = (value: string, env: NodeJS.ProcessEnv) => loadFloorgateConfigText(minimal().replace('mqtt://127.0.0.1:1883', value), 'c.yaml', env);

  test('${VAR} and ${VAR:-default}', () => {
    expect(ok(url('mqtt://${HOST}:${PORT:-1883}', { HOST: 'broker' })).mqtt.url).toBe('mqtt://broker:1883');
    expect(ok(url('mqtt://${HOST}:${PORT:-1883}', { HOST: 'broker', PORT: '8883' })).mqtt.url).toBe('mqtt://broker:8883');
    // As in a shell, :- also replaces a variable that is set but empty.
    expect(ok(url('mqtt://${HOST:-localhost}', { HOST: '' })).mqtt.url).toBe('mqtt://localhost');
  });

  test('an unset ${VAR} is an error at its value; the default may be empty', () => {
    expect(problems(url('mqtt://${BROKER_HOST}', {}))).toEqual([
      'c.yaml:4:8: mqtt.url: environment variable BROKER_HOST is not set (write ${BROKER_HOST:-default} to give a default)',
    ]);
    expect(problems(url('mqtt://h${SUFFIX', {}))).toEqual([
      'c.yaml:4:8: mqtt.url: unterminated "${" (write $${ for a literal ${)',
    ]);
  });

  test('$${ is a literal ${', () => {
    const text = minimal(`  username: a$\${B}c\ndevices: []\n`);
    expect(ok(loadFloorgateConfigText(text, 'c.yaml', {})).mqtt.username).toBe('a${B}c');
  });

  test('expanded values are strings, accepted where a number or boolean is expected, quoted or not', () => {
    const text = minimal(`  username: \${USER_NAME}\n  password: \${PW}\n  qos: \${QOS}\n  tls: { insecure: "\${INSECURE}" }\n  max_inflight: "\${INFLIGHT}"\ndevices: []\n`);
    const env = { USER_NAME: '1234', PW: '0123', QOS: '2', INSECURE: 'true', INFLIGHT: '10' };
    const config = ok(loadFloorgateConfigText(text, 'c.yaml', env));
    expect(config.mqtt).toMatchObject({ username: '1234', password: '0123', qos: 2, max_inflight: 10, tls: { insecure: true } });
    expect(problems(loadFloorgateConfigText(text, 'c.yaml', { ...env, QOS: 'high' }))).toEqual(['c.yaml:7:8: mqtt.qos: "high" is not one of 0, 1, 2']);
  });

  test('an unquoted value that expands to nothing counts as not set, so the default applies', () => {
    const text = minimal(`  client_id: \${CLIENT_ID:-}\n  qos: \${QOS:-}\n  username: "\${USER_NAME:-}"\ndevices: []\n`);
    const config = ok(loadFloorgateConfigText(text, 'c.yaml', {}));
    expect(config.mqtt.client_id).toBe('gw1');
    expect(config.mqtt.qos).toBe(1);
    expect(config.mqtt.username).toBe('');
  });
});

describe('password_file', () => {
  const withFile = (file: string) =>
    loadFloorgateConfigText(minimal(`  username: u\n  password_file: ${file}\ndevices: []\n`), path.join(tmp, 'c.yaml'), {});

  test('strips exactly one trailing newline', () => {
    expect(ok(withFile(secretFile('lf', 'pw\n'))).mqtt.password).toBe('pw');
    expect(ok(withFile(secretFile('crlf', 'pw\r\n'))).mqtt.password).toBe('pw');
    expect(ok(withFile(secretFile('two', 'pw\n\n'))).mqtt.password).toBe('pw\n');
    expect(ok(withFile(secretFile('none', ' pw '))).mqtt.password).toBe(' pw ');
  });

  test('a relative path is relative to the config file', () => {
    secretFile('relative.pw', 'rel\n');
    expect(ok(withFile('relative.pw')).mqtt.password).toBe('rel');
  });

  test('a file others can read is refused, at the key', () => {
    const file = secretFile('open.pw', 'pw\n', 0o644);
    expect(problems(withFile(file))).toEqual([
      `${path.join(tmp, 'c.yaml')}:6:3: mqtt.password_file: ${file} is readable by other users (mode 0644); chmod 600 it`,
    ]);
    const groupReadable = secretFile('group.pw', 'pw\n', 0o640);
    expect(problems(withFile(groupReadable))[0]).toMatch(/mqtt\.password_file: .* \(mode 0640\); chmod 600 it$/);
  });
});

describe('defaults', () => {
  test('device defaults are filled in and copied onto tags; a tag\'s own value wins', () => {
    const config = ok(loadFloorgateConfigText(oneTcpDevice(
      '    poll_interval: 2s\n    byte_order: CDAB\n    heartbeat: 1m\n    deadband: 0.5\n',
      '      - { name: a, area: holding, address: 0, type: float32 }\n' +
      '      - { name: b, area: holding, address: 2, type: float32, poll_interval: 250ms, byte_order: DCBA, heartbeat: 10s, deadband: 0 }\n',
    ), 'c.yaml', {}));
    const device = config.devices[0] as ModbusTcpDevice;
    expect(device).toMatchObject({
      port: 502, unit_id: 1, timeout: 1000, max_registers_per_read: 125, max_bits_per_read: 2000, max_gap: 16,
    });
    expect(device.tags[0]).toEqual({
      name: 'a', area: 'holding', address: 0, type: 'float32', scale: 1, offset: 0, writable: false,
      poll_interval: 2000, byte_order: 'CDAB', heartbeat: 60_000, deadband: 0.5,
    } satisfies ModbusTag);
    expect(device.tags[1]).toMatchObject({ poll_interval: 250, byte_order: 'DCBA', heartbeat: 10_000, deadband: 0 });
  });

  test('without heartbeat or deadband anywhere, tags have none', () => {
    const config = ok(loadFloorgateConfigText(oneTcpDevice('', '      - { name: a, area: coil, address: 0, type: bool }\n'), 'c.yaml', {}));
    const tag = config.devices[0].tags[0];
    expect('heartbeat' in tag || 'deadband' in tag).toBe(false);
    expect(tag.poll_interval).toBe(1000);
  });

  test('top-level defaults; a relative data_dir resolves against the config file, pki_dir against data_dir', () => {
    const text = `gateway:\n  id: gw1\n  data_dir: state\nmqtt:\n  url: mqtt://h\n  format: sparkplug_b\n  sparkplug: { group_id: g }\n` +
      `devices:\n  - name: oven\n    driver: opcua\n    endpoint: opc.tcp://h:4840\n    tags: [{ name: z, node_id: i=2258 }]\n`;
    const config = ok(loadFloorgateConfigText(text, '/etc/fg/floorgate.yaml', {}));
    expect(config.gateway.data_dir).toBe('/etc/fg/state');
    expect((config.devices[0] as OpcuaDevice).pki_dir).toBe('/etc/fg/state/pki');
    expect(config.mqtt).toMatchObject({ client_id: 'gw1', sparkplug: { group_id: 'g', edge_node_id: 'gw1' }, qos: 1 });
    expect(config.log.level).toBe('info');
    expect(config.http).toEqual({ listen: { host: '127.0.0.1', port: 9102 }, allow_remote: false });
    expect((config.devices[0] as OpcuaDevice)).toMatchObject({ security_mode: 'None', security_policy: 'Basic256Sha256', trust_on_first_use: false });
    expect(config.devices[0].tags[0]).toMatchObject({ mode: 'subscribe', queue_size: 10, sampling_interval: 1000, writable: false });
  });

  test('http: listen false, remote with allow_remote, IPv6 loopback', () => {
    const http = (line: string) => ok(loadFloorgateConfigText(minimal(`devices: []\nhttp: ${line}\n`), 'c.yaml', {})).http;
    expect(http('{ listen: false }').listen).toBe(false);
    expect(http('{ listen: "0.0.0.0:9102", allow_remote: true }')).toEqual({ listen: { host: '0.0.0.0', port: 9102 }, allow_remote: true });
    expect(http('{ listen: "[::1]:0" }').listen).toEqual({ host: '::1', port: 0 });
  });

  test('serial: the group defaults to the tag name, the delimiter to \\n', () => {
    const text = minimal(`devices:\n  - name: s\n    driver: serial\n    port: /dev/x\n    pattern: 'T=(?<t>\\d+)'\n    tags: [{ name: t, type: int64 }]\n`);
    const device = ok(loadFloorgateConfigText(text, 'c.yaml', {})).devices[0] as SerialDevice;
    expect(device.delimiter).toBe('\n');
    expect(device.request).toBeUndefined();
    expect(device.tags[0].group).toBe('t');
  });

  test('an empty value counts as not set', () => {
    const config = ok(loadFloorgateConfigText(minimal('  client_id:\n  tls:\ndevices: []\nbuffer:\n'), 'c.yaml', {}));
    expect(config.mqtt.client_id).toBe('gw1');
    expect(config.mqtt.tls).toBeUndefined();
    expect(config.buffer.max_bytes).toBe(512 * 2 ** 20);
  });
});

describe('names as SCADA systems write them', () => {
  test('dots, spaces and other characters safe in an MQTT topic level are taken as written', () => {
    const config = ok(loadFloorgateConfigText(minimal(`devices:
  - name: Line 1.Press
    driver: modbus_tcp
    host: h
    tags:
      - { name: Zone1.Temp, area: holding, address: 0, type: uint16 }
      - { name: "Température [°C]", area: holding, address: 1, type: uint16 }
      - { name: ns=2;s=x, area: holding, address: 2, type: uint16 }
`), 'c.yaml', {}));
    expect(config.devices[0].name).toBe('Line 1.Press');
    expect(config.devices[0].tags.map((t) => t.name)).toEqual(['Zone1.Temp', 'Température [°C]', 'ns=2;s=x']);
  });

  test('a serial tag with a dotted name reads the group it names', () => {
    const text = minimal(`devices:\n  - name: s\n    driver: serial\n    port: /dev/x\n    pattern: 'T=(?<t>\\d+)'\n    tags: [{ name: Zone1.T, group: t, type: int64 }]\n`);
    expect((ok(loadFloorgateConfigText(text, 'c.yaml', {})).devices[0] as SerialDevice).tags[0]).toMatchObject({ name: 'Zone1.T', group: 't' });
  });
});

describe('templates: top-level x- keys and YAML merge keys', () => {
  /** Lines 1–4 minimal(); the template from line 5. */
  const drives = (template: string, devices: string) => minimal(`x-drive: &drive\n${template}devices:\n${devices}`);
  const template = '  driver: modbus_rtu\n  port: /dev/ttyUSB0\n  baud_rate: 19200\n  poll_interval: 2s\n' +
    '  tags:\n    - { name: speed, area: holding, address: 0, type: uint16 }\n';

  test('twenty identical drives are one template and twenty unit ids; a key of the device wins over the merged one', () => {
    const units = Array.from({ length: 20 }, (_, i) => `  - { <<: *drive, name: drive-${i + 1}, unit_id: ${i + 1} }\n`).join('');
    const config = ok(loadFloorgateConfigText(drives(template, units + '  - { name: drive-21, poll_interval: 500ms, <<: *drive, unit_id: 21 }\n'), 'c.yaml', {}));
    expect(config.devices).toHaveLength(21);
    config.devices.forEach((device, i) => {
      expect(device).toMatchObject({ name: `drive-${i + 1}`, driver: 'modbus_rtu', port: '/dev/ttyUSB0', baud_rate: 19200, unit_id: i + 1 });
      expect(device.tags).toEqual([expect.objectContaining({ name: 'speed', address: 0, type: 'uint16' })]);
    });
    expect(config.devices[0].poll_interval).toBe(2000);
    expect(config.devices[20].poll_interval).toBe(500);
  });

  test('a list of templates: the first one that has a key gives it', () => {
    const text = minimal(`x-line: &line { driver: modbus_rtu, port: /dev/ttyUSB0, baud_rate: 19200 }
x-fast: &fast { baud_rate: 115200, poll_interval: 250ms }
devices:
  - <<: [*line, *fast]
    name: d
    tags: [{ name: s, area: holding, address: 0, type: uint16 }]
`);
    expect(ok(loadFloorgateConfigText(text, 'c.yaml', {})).devices[0]).toMatchObject({ baud_rate: 19200, poll_interval: 250 });
  });

  test('a wrong key in the template is reported where it is written, once per device that uses it', () => {
    const result = loadFloorgateConfigText(drives(`${template}  baud_rte: 9600\n`, '  - { <<: *drive, name: a, unit_id: 1 }\n  - { <<: *drive, name: b, unit_id: 2 }\n'), 'c.yaml', {});
    expect(problems(result)).toEqual([
      'c.yaml:12:3: devices[0].baud_rte: unknown key "baud_rte"; did you mean "baud_rate"?',
      'c.yaml:12:3: devices[1].baud_rte: unknown key "baud_rte"; did you mean "baud_rate"?',
    ]);
  });

  test('a bad value in the template is reported at the value; a key missing everywhere at the device', () => {
    const result = loadFloorgateConfigText(drives(template.replace('19200', 'fast'), '  - <<: *drive\n    name: a\n  - { name: b, <<: *drive, unit_id: 2 }\n'), 'c.yaml', {});
    expect(problems(result)).toEqual([
      'c.yaml:8:14: devices[0].baud_rate: expected a number, got "fast"',
      'c.yaml:8:14: devices[1].baud_rate: expected a number, got "fast"',
    ]);
    const missing = loadFloorgateConfigText(drives(template.replace('  port: /dev/ttyUSB0\n', ''), '  - { <<: *drive, name: a }\n'), 'c.yaml', {});
    expect(problems(missing)).toEqual(['c.yaml:12:5: devices[0].port: missing required key "port"']);
  });

  test('an unset ${VAR} in a template is reported once, at the template', () => {
    const result = loadFloorgateConfigText(drives(template.replace('/dev/ttyUSB0', '${DRIVE_PORT}'), '  - { <<: *drive, name: a, unit_id: 1 }\n  - { <<: *drive, name: b, unit_id: 2 }\n'), 'c.yaml', {});
    expect(problems(result)).toEqual(['c.yaml:7:9: x-drive.port: environment variable DRIVE_PORT is not set (write ${DRIVE_PORT:-default} to give a default)']);
  });

  test('a merge key takes a mapping or a list of mappings', () => {
    const result = loadFloorgateConfigText(minimal('x-n: &n 5\ndevices:\n  - { <<: *n, name: a }\n  - { <<: [*n], name: b }\n'), 'c.yaml', {});
    const noDriver = 'missing required key "driver" (one of modbus_tcp, modbus_rtu, opcua, serial)';
    expect(problems(result)).toEqual([
      `c.yaml:7:5: devices[0].driver: ${noDriver}`,
      'c.yaml:7:11: devices[0]: a merge key (<<) takes a mapping or a list of mappings, got 5',
      `c.yaml:8:5: devices[1].driver: ${noDriver}`,
      'c.yaml:8:12: devices[1]: a merge key (<<) takes a mapping or a list of mappings, got 5',
    ]);
  });

  test('only top-level keys starting with x- are ignored', () => {
    expect(problems(loadFloorgateConfigText(minimal('devices: []\nx-notes: { anything: [1, 2] }\ny-notes: 1\n'), 'c.yaml', {})))
      .toEqual(['c.yaml:7:1: y-notes: unknown key "y-notes"']);
    expect(problems(loadFloorgateConfigText(minimal('devices: []\nbuffer: { x-notes: 1 }\n'), 'c.yaml', {})))
      .toEqual(['c.yaml:6:11: buffer.x-notes: unknown key "x-notes"']);
  });

  test('merges do not get around the alias limit', () => {
    const bomb = 'x-a: &a { k0: 1, k1: 1 }\n' + Array.from({ length: 12 }, (_, i) =>
      `x-${i + 1}: &a${i + 1} { <<: [${Array.from({ length: 10 }, () => i === 0 ? '*a' : `*a${i}`).join(', ')}], m${i}: 1 }\n`).join('');
    const result = loadFloorgateConfigText(minimal(`${bomb}devices: []\n`), 'c.yaml', {});
    expect(result.ok).toBe(false);
    expect(problems(result).some((p) => p.includes('too many aliases'))).toBe(true);
  });
});

describe('bad input never throws', () => {
  test('a missing file is one problem at 1:1', () => {
    const file = path.join(tmp, 'nope.yaml');
    expect(loadFloorgateConfig(file)).toEqual({
      ok: false,
      problems: [{ file, line: 1, col: 1, path: '(root)', message: 'cannot read the config file: no such file' }],
    });
  });

  test('a directory, binary junk, deep nesting and alias bombs give problems, not exceptions', () => {
    expect(loadFloorgateConfig(tmp).ok).toBe(false);
    for (const text of [
      '\u0000\u0001\u0002',
      '['.repeat(5000),
      'a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
      'gateway: { __proto__: { id: x } }\n',
    ]) {
      const result = loadFloorgateConfigText(text, 'c.yaml', {});
      expect(result.ok).toBe(false);
    }
  });
});

test('types: the result is a FloorgateConfig or a list of problems', () => {
  expectTypeOf(loadFloorgateConfig).parameters.toEqualTypeOf<[file: string, env?: NodeJS.ProcessEnv]>();
  expectTypeOf(loadFloorgateConfigText).parameters.toEqualTypeOf<[text: string, file: string, env?: NodeJS.ProcessEnv]>();
  expectTypeOf(loadConfig).parameters.toEqualTypeOf<[file: string, context: LoadContext, env?: NodeJS.ProcessEnv]>();
  expectTypeOf(loadFloorgateConfig).returns.toEqualTypeOf<LoadResult>();
  const result = loadFloorgateConfigText(minimal(), 'c.yaml', {});
  if (result.ok) {
    expectTypeOf(result.config).toEqualTypeOf<FloorgateConfig>();
    expectTypeOf<(typeof result.config.devices)[number]['tags'][number]['poll_interval']>().toBeNumber();
    expectTypeOf(result.config.http.listen).toEqualTypeOf<false | { readonly host: string; readonly port: number }>();
  } else {
    expectTypeOf(result.problems).toEqualTypeOf<ConfigProblem[]>();
  }
  expectTypeOf<ConfigProblem>().toEqualTypeOf<{
    readonly file: string; readonly line: number; readonly col: number; readonly path: string; readonly message: string;
  }>();
  expect(result.ok).toBe(true);
});
