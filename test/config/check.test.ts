import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { runCheck } from '../../src/cli/check.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-check-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function check(file: string, plan = false): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runCheck(file, { plan, out: (line) => lines.push(line) });
  return { code, lines };
}

test('an invalid config: every problem as FILE:LINE:COL: path: message, exit 78', async () => {
  const file = path.join(tmp, 'bad.yaml');
  fs.writeFileSync(file, [
    'gateway:',
    '  id: gw 1',
    'mqtt:',
    '  url: mqtt://127.0.0.1:1883',
    '  qos: 5',
    'devices:',
    '  - name: plc',
    '    driver: modbus_tcp',
    '    host: 127.0.0.1',
    '    tags:',
    '      - { name: t, area: holding, adress: 0, type: uint16 }',
    '',
  ].join('\n'));
  const { code, lines } = await check(file);
  expect(code).toBe(78);
  expect(lines).toEqual([
    `${file}:2:7: gateway.id: invalid name "gw 1": use only letters, digits, _ and -`,
    `${file}:5:8: mqtt.qos: 5 is not one of 0, 1, 2`,
    `${file}:11:9: devices[0].tags[0].address: missing required key "address"`,
    `${file}:11:35: devices[0].tags[0].adress: unknown key "adress"; did you mean "address"?`,
  ]);
});

test('a missing file: one problem, exit 78, no stack trace', async () => {
  const file = path.join(tmp, 'absent.yaml');
  expect(await check(file)).toEqual({ code: 78, lines: [`${file}:1:1: (root): cannot read the config file: no such file`] });
});

test('a valid config: a one-line summary, exit 0', async () => {
  expect(await check('config/demo.yaml')).toEqual({ code: 0, lines: ['config/demo.yaml: OK: 3 devices, 17 tags'] });
});

test('--plan prints each device with its plan lines indented, or says there is none', async () => {
  const { code, lines } = await check('config/floorgate.example.yaml', true);
  expect(code).toBe(0);
  expect(lines[0]).toBe('config/floorgate.example.yaml: OK: 4 devices, 11 tags');
  const headers = lines.filter((l) => !l.startsWith('  ')).slice(1);
  expect(headers).toEqual([
    'press-1 (modbus_tcp):', 'drives (modbus_rtu):', 'oven (opcua):', 'scale-1 (serial):',
    'serial line /dev/ttyUSB0 (19200 8E1, t3.5 2.01 ms): drives:',
  ]);
  // Every device has at least one indented line under it.
  for (const header of headers) expect(lines[lines.indexOf(header) + 1]).toMatch(/^ {2}\S/);
  const oven = lines.indexOf('oven (opcua):');
  const ovenLine = lines[oven + 1];
  if (ovenLine.includes('no plan')) expect(ovenLine).toBe('  (no plan available for driver opcua)');
});

test('--plan shows what each serial line costs; one that cannot keep its schedule is a warning, exit 0', async () => {
  // Issue 23: two drives on one RS-485 line at 9600 baud, both polled every 100 ms, one reading
  // 120 registers: its reply alone is 245 bytes, 255 ms on the wire.
  const file = path.join(tmp, 'overloaded.yaml');
  const drive = (name: string, unit: number, tag: string) => [
    `  - name: ${name}`,
    '    driver: modbus_rtu',
    '    port: /dev/ttyUSB0',
    '    baud_rate: 9600',
    `    unit_id: ${unit}`,
    '    poll_interval: 100ms',
    '    tags:',
    `      - ${tag}`,
  ];
  fs.writeFileSync(file, [
    'gateway: { id: gw1, data_dir: /tmp/gw1 }',
    'mqtt: { url: mqtt://127.0.0.1:1883 }',
    'devices:',
    ...drive('drive-1', 1, '{ name: block, area: holding, address: 0, type: string, length: 120 }'),
    ...drive('drive-2', 2, '{ name: speed, area: holding, address: 0, type: uint16 }'),
    '',
  ].join('\n'));
  const warning = 'warning: serial line /dev/ttyUSB0 (9600 8N1, t3.5 3.65 ms): the polls need 294 % of its time; ' +
    'they cannot all be kept and will overrun (floorgate_poll_overruns_total): poll less often, read less, or use a faster line';
  expect(await check(file, true)).toEqual({
    code: 0,
    lines: [
      `${file}: OK: 2 devices, 2 tags`,
      'drive-1 (modbus_rtu):',
      '  every 100ms: holding 0..119 (120 registers; 8 + 245 bytes, 270.8 ms on the line) -> block',
      'drive-2 (modbus_rtu):',
      '  every 100ms: holding 0..0 (1 register; 8 + 7 bytes, 22.9 ms on the line) -> speed',
      'serial line /dev/ttyUSB0 (9600 8N1, t3.5 3.65 ms): drive-1, drive-2:',
      '  every 100ms: 2 requests, 293.8 ms on the line',
      '  load: 294 % of the line\'s time',
      `  ${warning}`,
    ],
  });
  // Without --plan the warning still shows: a config that cannot be kept is worth a look.
  expect(await check(file)).toEqual({ code: 0, lines: [`${file}: OK: 2 devices, 2 tags`, warning] });
});
