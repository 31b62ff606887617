/**
 * Config schemas of the modbus_tcp and modbus_rtu drivers: one raw device mapping in, a
 * normalised ModbusTcpDevice / ModbusRtuDevice out, device defaults copied onto each tag.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import type { ValueType } from '../../src/driver/contract.js';
import {
  checkScaleOnlyNumeric, deviceCommonShape, fillDeviceDefaults, intIn, issuesIn, nonEmptyString, numberFromText, serialLineShape,
  tagCommonShape, type ReportProblem,
} from '../../src/config/fields.js';
import { repr } from '../../src/config/words.js';

export const AREAS = ['holding', 'input', 'coil', 'discrete'] as const;
export const TYPES = [
  'bool', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'string',
] as const satisfies readonly ValueType[];
export const BYTE_ORDERS = ['ABCD', 'BADC', 'CDAB', 'DCBA'] as const;

export type ModbusArea = (typeof AREAS)[number];
export type ModbusTagType = (typeof TYPES)[number];
/** Word and byte order of multi-register values: ABCD is big-endian, as the Modbus spec sends. */
export type ByteOrder = (typeof BYTE_ORDERS)[number];

const WIDTH: Record<Exclude<ModbusTagType, 'string'>, number> = {
  bool: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4,
};

/** Registers (or bits, for coils and discrete inputs) one tag occupies. */
function width(tag: { readonly area: ModbusArea; readonly type: ModbusTagType; readonly length?: number }): number {
  if (tag.area === 'coil' || tag.area === 'discrete') return 1;
  return tag.type === 'string' ? (tag.length ?? 1) : WIDTH[tag.type];
}

/** A host name or address; a port or URL here is a common slip that would only fail at connect time. */
const host = nonEmptyString.refine((h) => !/[/\s]/.test(h) && (!h.includes(':') || isIP(h) === 6), {
  error: (iss) => `invalid host ${repr(iss.input)}: give a name or address only, the port goes in port:`,
  abort: true,
  // In JSON Schema, an IPv6 address is "two colons or more": it still refuses HOST:PORT.
}).meta({ pattern: String.raw`^(?=[^/\s]+$)(?:[^:]+|(?:[^:]*:){2}.*)$` });

export const tagShape = {
  ...tagCommonShape,
  area: z.enum(AREAS),
  address: intIn(0, 65535),
  type: z.enum(TYPES),
  /** Without bit, a bool on a register is true when the register is non-zero. */
  bit: intIn(0, 15).optional(),
  length: intIn(1, 125).optional(),
  byte_order: z.enum(BYTE_ORDERS).optional(),
};

/** The rules across a tag's keys (its schema and the quick parse run them). */
export function checkTag(tag: RawTag, report: ReportProblem): void {
  const bitArea = tag.area === 'coil' || tag.area === 'discrete';
  if (bitArea && tag.type !== 'bool') report(['type'], `${tag.area} tags must be type bool, not ${tag.type}`);
  if (tag.bit !== undefined && (bitArea || tag.type !== 'bool')) report(['bit'], 'bit applies only to type bool on a holding or input register');
  if (tag.type === 'string' && tag.length === undefined) report(['length'], 'type string needs length (in registers, two characters each)');
  if (tag.type !== 'string' && tag.length !== undefined) report(['length'], `length applies only to type string, not ${tag.type}`);
  const last = tag.address + width(tag) - 1;
  if (last > 65535) report(['address'], `${tag.type} at address ${tag.address} spans ${width(tag)} registers and runs past 65535`);
  if (tag.writable && (tag.area === 'input' || tag.area === 'discrete')) {
    report(['writable'], `${tag.area} is read-only; only holding and coil tags can be writable`);
  }
  checkScaleOnlyNumeric(tag, report);
}

const tagSchema = z.strictObject(tagShape).superRefine((tag, ctx) => checkTag(tag, issuesIn(ctx)));

export type RawTag = z.output<typeof tagSchema>;

const modbusShape = {
  ...deviceCommonShape,
  byte_order: z.enum(BYTE_ORDERS).default('ABCD'),
  max_registers_per_read: intIn(1, 125).default(125),
  max_bits_per_read: intIn(1, 2000).default(2000),
  max_gap: intIn(0, 65535).default(16),
  tags: z.array(tagSchema).min(1, { error: 'a device needs at least one tag' }),
};

export interface RawModbusDevice {
  readonly poll_interval: number;
  readonly heartbeat?: number;
  readonly deadband?: number;
  readonly byte_order: ByteOrder;
  readonly max_registers_per_read: number;
  readonly tags: readonly RawTag[];
}

/** A tag that cannot be read in one request can never be read: say so now rather than at every poll. */
export function checkFitsOneRead(device: RawModbusDevice, report: ReportProblem): void {
  device.tags.forEach((tag, i) => {
    if (tag.area !== 'holding' && tag.area !== 'input') return;
    if (width(tag) > device.max_registers_per_read) {
      report(['tags', i, tag.type === 'string' ? 'length' : 'type'], `needs ${width(tag)} registers but max_registers_per_read is ${device.max_registers_per_read}`);
    }
  });
}

/** A tag as the driver receives it: its device's poll_interval and byte_order when it has none. */
type NormalTag = Omit<RawTag, 'byte_order'> & { readonly poll_interval: number; readonly byte_order: ByteOrder };

/** `tag` (a fresh object, see fillDeviceDefaults) as the driver receives it, filled in place. */
export function fillTagDefaults(device: Omit<RawModbusDevice, 'tags'>, tag: RawTag): NormalTag {
  const normal = fillDeviceDefaults(device, tag);
  normal.byte_order ??= device.byte_order;
  return normal as NormalTag;
}

function withTagDefaults<D extends RawModbusDevice>(device: D): Omit<D, 'tags'> & { readonly tags: readonly NormalTag[] } {
  return { ...device, tags: device.tags.map((tag) => fillTagDefaults(device, Object.assign({}, tag))) };
}

export const modbusTcpDeviceSchema = z
  .strictObject({
    ...modbusShape,
    driver: z.literal('modbus_tcp'),
    host,
    port: intIn(1, 65535).default(502),
    // 255 (0xFF) is what the Modbus TCP implementation guide asks of a device addressed directly over TCP.
    unit_id: intIn(0, 255).default(1),
  })
  .superRefine((device, ctx) => checkFitsOneRead(device, issuesIn(ctx)))
  .transform(withTagDefaults);

/** Every RTU byte is eight bits of binary; seven data bits would be Modbus ASCII. */
const rtuDataBits = z
  .preprocess(numberFromText, z.literal(8, { error: 'Modbus RTU needs 8 data bits (7 is Modbus ASCII, which floorgate does not speak)' }))
  .default(8);

export const modbusRtuDeviceSchema = z
  .strictObject({
    ...modbusShape,
    ...serialLineShape,
    data_bits: rtuDataBits,
    driver: z.literal('modbus_rtu'),
    unit_id: intIn(1, 247).default(1),
  })
  .superRefine((device, ctx) => checkFitsOneRead(device, issuesIn(ctx)))
  .transform(withTagDefaults);

/** Modbus devices as their driver receives them: validated, device defaults copied onto each tag. */
export type ModbusTcpDevice = z.output<typeof modbusTcpDeviceSchema>;
export type ModbusRtuDevice = z.output<typeof modbusRtuDeviceSchema>;
export type ModbusDevice = ModbusTcpDevice | ModbusRtuDevice;
export type ModbusTag = NormalTag;
