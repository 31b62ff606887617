/**
 * The quick parse of a Modbus device is judged against its zod schema: for any mapping it
 * takes, the very same device (values, keys, their order); for any mapping the schema refuses,
 * undefined, so the schema words the problems. Random devices mix the common shape with every
 * kind of slip the schema names (text numbers, unknown keys, rules across keys, ranges).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QUICK_TAG, parseModbusQuickly } from '../quick-parse.js';
import { AREAS, BYTE_ORDERS, TYPES, modbusRtuDeviceSchema, modbusTcpDeviceSchema, tagShape } from '../schema.js';

const bench = (tags: number) => ({
  name: 'plc1', driver: 'modbus_tcp', host: '127.0.0.1', port: 5020, poll_interval: '1s', timeout: '2s',
  tags: Array.from({ length: tags }, (_, i) => ({ name: `t${i}`, area: 'holding', address: i * 2, type: 'float32' })),
});

/** A value the schema refuses where it stands, or takes only as text (or at all). */
const odd = fc.constantFrom<unknown>(null, '5', 'x', -1, 1.5, 70_000, Number.NaN, Infinity, true, {}, [], 'a/b', '');
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 19, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/** Mostly an area and a type that go together; now and then any two. */
const areaAndType = fc.oneof(
  { weight: 10, arbitrary: fc.record({ area: fc.constantFrom('holding', 'input'), type: fc.constantFrom(...TYPES.filter((t) => t !== 'string')) }) },
  { weight: 2, arbitrary: fc.record({ area: fc.constantFrom('coil', 'discrete'), type: fc.constant('bool') }) },
  { weight: 1, arbitrary: fc.record({ area: fc.constantFrom(...AREAS), type: fc.constantFrom(...TYPES) }) },
);

const withoutUndefined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Tags that break the schema's rules across keys now and then (bit, length, span, writable, scale on a bool). */
const tagArb = fc.record({
  name: fc.stringMatching(/^[a-z][a-z0-9.]{0,6}$/),
  address: fc.integer({ min: 0, max: 65535 }),
  bit: rarely(fc.integer({ min: 0, max: 15 })),
  length: rarely(fc.integer({ min: 1, max: 125 })),
  byte_order: maybe(fc.constantFrom(...BYTE_ORDERS)),
  scale: rarely(fc.double({ min: -10, max: 10, noNaN: true })),
  offset: rarely(fc.constantFrom(0, 1, -2.5)),
  deadband: maybe(fc.constantFrom(0, 0.5, 3)),
  poll_interval: maybe(fc.constantFrom(250, '5s', '100ms', 0.5)),
  heartbeat: maybe(fc.constantFrom(60_000, '1m')),
  writable: rarely(fc.boolean()),
}, { requiredKeys: ['name', 'address'] }).chain((tag) => areaAndType.map((at) => withoutUndefined({ ...tag, ...at })));

const TAG_KEYS = [...Object.keys(tagShape), 'colour'];
const DEVICE_KEYS = ['poll_interval', 'heartbeat', 'deadband', 'byte_order', 'max_registers_per_read', 'tags', 'colour'];

/** Half of the devices have one slip: an odd value (or an unknown key) on the device or a tag. */
const deviceArb = fc.record({
  poll_interval: maybe(fc.constantFrom(1000, '1s', '250ms')),
  heartbeat: maybe(fc.constantFrom(30_000, '30s')),
  deadband: maybe(fc.constantFrom(0, 0.1)),
  byte_order: maybe(fc.constantFrom(...BYTE_ORDERS)),
  max_registers_per_read: rarely(fc.constantFrom(1, 2, 4, 125)),
  tags: fc.array(tagArb, { minLength: 1, maxLength: 4 }),
  slip: fc.option(fc.record({ onTag: fc.boolean(), tagKey: fc.constantFrom(...TAG_KEYS), deviceKey: fc.constantFrom(...DEVICE_KEYS), value: odd })),
}).map(({ slip, ...device }) => {
  const out = withoutUndefined(device) as Record<string, unknown> & { tags: Record<string, unknown>[] };
  if (slip?.onTag) out.tags[out.tags.length - 1][slip.tagKey] = slip.value;
  else if (slip) out[slip.deviceKey] = slip.value;
  return out;
});

/** JSON with undefined spelled out: the order of keys and a key holding undefined both show. */
const exactly = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (v === undefined ? '<undefined>' : v));

describe('parseModbusQuickly = the zod schema', () => {
  it('knows the schema’s tag keys, in its order', () => {
    expect(Object.keys(QUICK_TAG)).toEqual(Object.keys(tagShape));
  });

  it('takes the common shape, giving what the schema gives', () => {
    const raw = bench(50);
    const quick = parseModbusQuickly(modbusTcpDeviceSchema, raw);
    expect(quick).toBeDefined();
    expect(exactly(quick)).toBe(exactly(modbusTcpDeviceSchema.parse(raw)));
  });

  it('random devices, TCP and RTU: the same device or undefined', () => {
    let taken = 0;
    fc.assert(fc.property(deviceArb, fc.boolean(), (device, rtu) => {
      const raw = rtu
        ? { name: 'u1', driver: 'modbus_rtu', port: '/dev/ttyUSB0', baud_rate: 19200, ...device }
        : { name: 'p1', driver: 'modbus_tcp', host: 'plc', ...device };
      const schema = rtu ? modbusRtuDeviceSchema : modbusTcpDeviceSchema;
      const zod = schema.safeParse(raw);
      const quick = parseModbusQuickly<typeof zod.data & object>(schema as never, raw);
      if (quick === undefined) return;
      taken++;
      expect(zod.success).toBe(true);
      expect(exactly(quick)).toBe(exactly(zod.data));
    }), { numRuns: 2000 });
    // Most random devices hold a slip somewhere; enough must be taken for the comparison to mean something.
    expect(taken).toBeGreaterThan(300);
  });
});
