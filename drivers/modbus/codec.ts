/**
 * Modbus value codec: registers (16-bit words as they come off the wire) ⇄ tag values.
 *
 * Byte orders name the bytes of a value as they appear on the wire, register by register
 * (reference §2): ABCD big-endian, CDAB word-swapped, BADC byte-swapped within each register,
 * DCBA fully reversed. Two independent switches express all four for any width:
 * "reverse the register order" (CDAB, DCBA) and "swap the two bytes of each register"
 * (BADC, DCBA). 16-bit values and strings only ever use the byte swap.
 *
 * Pure and allocation-light: it runs once per reading, so every numeric decode goes through one
 * module-level 8-byte scratch buffer instead of allocating.
 */
import type { ByteOrder, ModbusTag, ModbusTagType } from './schema.js';

const scratch = new DataView(new ArrayBuffer(8));

const TWO_32 = 4294967296;

/** What a tag value decodes to (a subset of the driver contract's Value). */
export type TagValue = boolean | number | bigint | string;

const WIDTH: Readonly<Record<ModbusTagType, number>> = {
  bool: 1, int16: 1, uint16: 1,
  int32: 2, uint32: 2, float32: 2,
  int64: 4, uint64: 4, float64: 4,
  string: 0,
};

/** Registers a tag occupies (coils and discretes: bits, always 1). */
export function tagWidth(tag: Pick<ModbusTag, 'area' | 'type' | 'length'>): number {
  if (tag.area === 'coil' || tag.area === 'discrete') return 1;
  return tag.type === 'string' ? Math.max(1, tag.length ?? 1) : WIDTH[tag.type];
}

function reversesWords(order: ByteOrder): boolean {
  return order === 'CDAB' || order === 'DCBA';
}

function swapsBytes(order: ByteOrder): boolean {
  return order === 'BADC' || order === 'DCBA';
}

function swap16(word: number): number {
  return ((word & 0xff) << 8) | ((word >> 8) & 0xff);
}

/** Copies `width` registers into the scratch buffer in big-endian (ABCD…) value order. */
function load(regs: ArrayLike<number>, index: number, width: number, order: ByteOrder): void {
  const reverse = width > 1 && reversesWords(order);
  const swap = swapsBytes(order);
  for (let k = 0; k < width; k++) {
    const word = regs[index + (reverse ? width - 1 - k : k)] & 0xffff;
    scratch.setUint16(k * 2, swap ? swap16(word) : word);
  }
}

/** The inverse of load(): scratch (big-endian value bytes) → registers in wire order. */
function store(width: number, order: ByteOrder): number[] {
  const reverse = width > 1 && reversesWords(order);
  const swap = swapsBytes(order);
  const out = new Array<number>(width);
  for (let k = 0; k < width; k++) {
    const word = scratch.getUint16(k * 2);
    out[reverse ? width - 1 - k : k] = swap ? swap16(word) : word;
  }
  return out;
}

/** A 64-bit integer in scratch: a number when it is a safe integer, else a bigint. */
function load64(signed: boolean): number | bigint {
  const hi = signed ? scratch.getInt32(0) : scratch.getUint32(0);
  const lo = scratch.getUint32(4);
  // |hi| ≤ 2^21 keeps hi·2^32 + lo within ±2^53, where every integer is exact.
  if (hi >= -0x200000 && hi < 0x200000) {
    const value = hi * TWO_32 + lo;
    if (Number.isSafeInteger(value)) return value;
  }
  return signed ? scratch.getBigInt64(0) : scratch.getBigUint64(0);
}

/**
 * The raw value of a register tag (holding/input), before scale and offset.
 * `regs[index]` is the tag's first register.
 */
export function decodeRaw(tag: ModbusTag, regs: ArrayLike<number>, index: number): TagValue {
  const order = tag.byte_order;
  switch (tag.type) {
    case 'bool': {
      load(regs, index, 1, order);
      const word = scratch.getUint16(0);
      return tag.bit === undefined ? word !== 0 : ((word >> tag.bit) & 1) === 1;
    }
    case 'int16': load(regs, index, 1, order); return scratch.getInt16(0);
    case 'uint16': load(regs, index, 1, order); return scratch.getUint16(0);
    case 'int32': load(regs, index, 2, order); return scratch.getInt32(0);
    case 'uint32': load(regs, index, 2, order); return scratch.getUint32(0);
    case 'float32': load(regs, index, 2, order); return shortestFloat32(scratch.getFloat32(0));
    case 'int64': load(regs, index, 4, order); return load64(true);
    case 'uint64': load(regs, index, 4, order); return load64(false);
    case 'float64': load(regs, index, 4, order); return scratch.getFloat64(0);
    case 'string': return decodeString(regs, index, tagWidth(tag), swapsBytes(order));
  }
}

/** 10^0 … 10^11, each exact as a double. */
const POW10: number[] = [1];
for (let k = 1; k <= 11; k++) POW10.push(POW10[k - 1] * 10);

/**
 * The magnitudes where nearestDecimal() rounds with double arithmetic, as exact as toPrecision:
 * 10^-3 ≤ |x| < 10^8. There a float32's 24-bit significand times 10^p (p ≤ 9 − 1 + 3, so
 * 5^p ≤ 26 bits) fits in 53 bits, and the float32 spacing (≤ 8) is finer than the units that
 * fewer digits round to (≥ 10). Outside, toPrecision does it.
 */
const FAST_MIN_EXPONENT = -3;
const FAST_MAX_EXPONENT = 7;

/** The e with 10^e ≤ abs < 10^(e+1), or null outside the fast magnitudes. */
function decimalExponent(abs: number): number | null {
  // log10 errs by far less than any non-integer float32 is from a power of ten (~1e-8 of it).
  const e = Math.floor(Math.log10(abs));
  return e >= FAST_MIN_EXPONENT && e <= FAST_MAX_EXPONENT ? e : null;
}

/**
 * abs rounded to `digits` significant digits, ties away from zero: Number(abs.toPrecision(digits))
 * without making and parsing a string.
 */
function nearestDecimal(abs: number, digits: number, e: number | null): number {
  if (e === null) return Number(abs.toPrecision(digits));
  const p = digits - 1 - e;
  // abs × 10^p is exact, so Math.round rounds it as toPrecision does.
  if (p >= 0) return Math.round(abs * POW10[p]) / POW10[p];
  // The quotient is rounded, which can tip a near-tie the other way; but a candidate half a
  // unit (≥ 5) from abs is never the same float32, so the search does not see the difference.
  const unit = POW10[-p];
  return Math.round(abs / unit) * unit;
}

/**
 * The shortest decimal that is the same float32: 123.456, not 123.45600128173828 (those bits
 * read as a float64). Nine significant digits always do, and one digit more never breaks a
 * round trip, so the fewest that do can be searched for. Most float32 values need 7 or 8: the
 * search starts there and bisects 1–5 only for a value that 6 digits already carry (20.5, 0.25:
 * the typical value of a scaled process variable). This runs for every float32 reading, so the
 * rounding is arithmetic, not toPrecision: at 10,000 float32 tags a second the strings it made
 * were 13 % of the daemon's CPU.
 */
export function shortestFloat32(x: number): number {
  // Below 2^24 an integer float32 is exact and no shorter decimal is another way to write it.
  if (!Number.isFinite(x) || (Number.isInteger(x) && Math.abs(x) < 2 ** 24)) return x;
  const abs = Math.abs(x);
  const sign = x < 0 ? -1 : 1;
  const e = decimalExponent(abs);
  const seven = nearestDecimal(abs, 7, e);
  if (Math.fround(seven) !== abs) {
    const eight = nearestDecimal(abs, 8, e);
    return sign * (Math.fround(eight) === abs ? eight : nearestDecimal(abs, 9, e));
  }
  const six = nearestDecimal(abs, 6, e);
  if (Math.fround(six) !== abs) return sign * seven;
  let shortest = six;
  let fewest = 1;
  let most = 5;
  while (fewest <= most) {
    const digits = (fewest + most) >> 1;
    const candidate = nearestDecimal(abs, digits, e);
    if (Math.fround(candidate) === abs) {
      shortest = candidate;
      most = digits - 1;
    } else {
      fewest = digits + 1;
    }
  }
  return sign * shortest;
}

function decodeString(regs: ArrayLike<number>, index: number, width: number, swap: boolean): string {
  let text = '';
  for (let k = 0; k < width; k++) {
    const word = regs[index + k] & 0xffff;
    const first = swap ? word & 0xff : word >> 8;
    const second = swap ? word >> 8 : word & 0xff;
    text += String.fromCharCode(first, second);
  }
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === 0 || text.charCodeAt(end - 1) === 0x20)) end--;
  return text.slice(0, end);
}

/** value = raw·scale + offset for numeric types; exact (untouched) when scale 1 and offset 0. */
export function applyScale(tag: Pick<ModbusTag, 'scale' | 'offset'>, raw: TagValue): TagValue {
  if (typeof raw === 'boolean' || typeof raw === 'string') return raw;
  if (tag.scale === 1 && tag.offset === 0) return raw;
  return Number(raw) * tag.scale + tag.offset;
}

/** Decode a register tag: raw value, then scale and offset. */
export function decodeRegisters(tag: ModbusTag, regs: ArrayLike<number>, index: number): TagValue {
  return applyScale(tag, decodeRaw(tag, regs, index));
}

// ——— encoding (writes, and the simulator) ———

const INT_RANGE: Readonly<Partial<Record<ModbusTagType, readonly [bigint, bigint]>>> = {
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

const FLOAT32_MAX = 3.4028234663852886e38;

/** A bool given as true/false or 1/0. */
export function toBool(value: unknown): boolean {
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  throw new TypeError(`expected true/false (or 1/0), got ${describe(value)}`);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** NaN for anything that is not a number, a bigint or numeric text. */
function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
}

/** An engineering value (after scale/offset) back to the raw integer the device holds. */
function toRawInteger(tag: ModbusTag, value: unknown): bigint {
  const [min, max] = INT_RANGE[tag.type]!;
  let raw: bigint;
  if (tag.scale === 1 && tag.offset === 0 && (typeof value === 'bigint' || (typeof value === 'string' && /^-?\d+$/.test(value.trim())))) {
    // Exact path: 64-bit integers arrive as decimal strings or bigints beyond 2^53.
    raw = BigInt(typeof value === 'string' ? value.trim() : value);
  } else {
    const n = toNumber(value);
    if (!Number.isFinite(n)) throw new TypeError(`expected a number for ${tag.type}, got ${describe(value)}`);
    // Undo scale and offset; round because e.g. 21.5 / 0.1 is 214.99999999999997.
    const unscaled = (n - tag.offset) / tag.scale;
    if (!Number.isFinite(unscaled)) throw new RangeError(`value ${describe(value)} cannot be unscaled (scale ${tag.scale})`);
    raw = BigInt(Math.round(unscaled));
  }
  if (raw < min || raw > max) {
    throw new RangeError(`value ${describe(value)} is out of range for ${tag.type} (raw ${raw}, allowed ${min}..${max})`);
  }
  return raw;
}

function toFloat(tag: ModbusTag, value: unknown): number {
  const n = toNumber(value);
  if (!Number.isFinite(n)) throw new TypeError(`expected a finite number for ${tag.type}, got ${describe(value)}`);
  const raw = tag.scale === 1 && tag.offset === 0 ? n : (n - tag.offset) / tag.scale;
  if (tag.type === 'float32' && Math.abs(raw) > FLOAT32_MAX) {
    throw new RangeError(`value ${describe(value)} is out of range for float32`);
  }
  return raw;
}

function encodeString(tag: ModbusTag, value: unknown): number[] {
  if (typeof value !== 'string') throw new TypeError(`expected a string, got ${describe(value)}`);
  const width = tagWidth(tag);
  if (value.length > width * 2) {
    throw new RangeError(`string of ${value.length} characters does not fit ${width} registers (${width * 2} characters)`);
  }
  if (/\P{ASCII}/u.test(value)) throw new RangeError('only ASCII characters can be written to a string tag');
  const swap = swapsBytes(tag.byte_order);
  const out = new Array<number>(width);
  for (let k = 0; k < width; k++) {
    // Padding with NULs: a reader trims them back off.
    const first = k * 2 < value.length ? value.charCodeAt(k * 2) : 0;
    const second = k * 2 + 1 < value.length ? value.charCodeAt(k * 2 + 1) : 0;
    out[k] = swap ? (second << 8) | first : (first << 8) | second;
  }
  return out;
}

/**
 * Registers (wire order) holding `value` for a register tag, or a RangeError/TypeError saying
 * why the value cannot be written. A bool with a `bit` needs the register's current content.
 */
export function encodeRegisters(tag: ModbusTag, value: unknown, current = 0): number[] {
  const order = tag.byte_order;
  switch (tag.type) {
    case 'bool': {
      const on = toBool(value);
      if (tag.bit === undefined) {
        scratch.setUint16(0, on ? 1 : 0);
      } else {
        load([current], 0, 1, order);
        const word = scratch.getUint16(0);
        scratch.setUint16(0, on ? word | (1 << tag.bit) : word & ~(1 << tag.bit) & 0xffff);
      }
      return store(1, order);
    }
    case 'int16': scratch.setInt16(0, Number(toRawInteger(tag, value))); return store(1, order);
    case 'uint16': scratch.setUint16(0, Number(toRawInteger(tag, value))); return store(1, order);
    case 'int32': scratch.setInt32(0, Number(toRawInteger(tag, value))); return store(2, order);
    case 'uint32': scratch.setUint32(0, Number(toRawInteger(tag, value))); return store(2, order);
    case 'int64': scratch.setBigInt64(0, toRawInteger(tag, value)); return store(4, order);
    case 'uint64': scratch.setBigUint64(0, toRawInteger(tag, value)); return store(4, order);
    case 'float32': scratch.setFloat32(0, toFloat(tag, value)); return store(2, order);
    case 'float64': scratch.setFloat64(0, toFloat(tag, value)); return store(4, order);
    case 'string': return encodeString(tag, value);
  }
}
