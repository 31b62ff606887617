/**
 * The encoding of written values (write-values.ts), pure: every type's accepted forms, range
 * checks at both ends, scale and offset undone, arrays, and the errors that name the data type.
 * What the server makes of the Variants is write.test.ts's part.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { DataType, VariantArrayType, type Variant } from 'node-opcua-client';
import { toVariant, type NodeShape } from '../write-values.js';
import { int64Words, scaled, variantValue } from '../values.js';

const plain = { scale: 1, offset: 0 };
const scalar = (dataType: DataType): NodeShape => ({ dataType, valueRank: -1 });
const array = (dataType: DataType): NodeShape => ({ dataType, valueRank: 1 });
const write = (type: DataType, value: unknown, scaling = plain): Variant => toVariant(scalar(type), value, scaling);

describe('toVariant', () => {
  test('integer types: the bounds pass, one beyond is a RangeError naming the type and range', () => {
    const ranges: Array<[DataType, number, number]> = [
      [DataType.SByte, -128, 127], [DataType.Byte, 0, 255], [DataType.Int16, -32768, 32767],
      [DataType.UInt16, 0, 65535], [DataType.Int32, -2147483648, 2147483647], [DataType.UInt32, 0, 4294967295],
    ];
    for (const [type, min, max] of ranges) {
      const v = write(type, max);
      expect(v.dataType).toBe(type);
      expect(v.arrayType).toBe(VariantArrayType.Scalar);
      expect(v.value).toBe(max);
      expect(write(type, min).value).toBe(min);
      expect(() => write(type, max + 1)).toThrow(new RangeError(`value ${max + 1} is out of range for ${DataType[type]} (raw ${max + 1}, allowed ${min}..${max})`));
      expect(() => write(type, min - 1)).toThrow(RangeError);
    }
  });

  test('an unscaled fraction for an integer type is refused, not rounded', () => {
    expect(() => write(DataType.Int16, 1.5)).toThrow(new RangeError('1.5 is not a whole number, as Int16 needs'));
  });

  test('64-bit integers: decimal strings and bigints exact to both ends; large JSON numbers refused', () => {
    const words = (v: Variant) => words64(v, v.dataType === DataType.Int64);
    expect(words(write(DataType.UInt64, '18446744073709551615'))).toBe(18446744073709551615n);
    expect(words(write(DataType.Int64, '-9223372036854775808'))).toBe(-9223372036854775808n);
    expect(words(write(DataType.Int64, 9223372036854775807n))).toBe(9223372036854775807n);
    expect(words(write(DataType.Int64, -42))).toBe(-42n);
    expect(() => write(DataType.UInt64, '18446744073709551616')).toThrow(/out of range for UInt64 .*allowed 0\.\.18446744073709551615/);
    expect(() => write(DataType.UInt64, '-1')).toThrow(RangeError);
    expect(() => write(DataType.Int64, '9223372036854775808')).toThrow(RangeError);
    expect(() => write(DataType.Int64, 2 ** 60)).toThrow(/lost digits: send a Int64 this large as a decimal string/);
    expect(() => write(DataType.Int64, '12.5')).toThrow(new TypeError('expected a number (or its decimal digits as a string) for Int64, got "12.5"'));
    // Decimal text is for 64-bit types only, as for Modbus tags.
    expect(() => write(DataType.Int32, '12')).toThrow(new TypeError('expected a number for Int32, got "12"'));
  });

  test('64-bit round trip through the reader for any value of the type', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (b) => {
      expect(words64(write(DataType.Int64, b.toString()), true)).toBe(b);
    }));
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (b) => {
      expect(words64(write(DataType.UInt64, b.toString()), false)).toBe(b);
    }));
  });

  test('scale and offset are undone: what a read would publish writes back to the same raw value', () => {
    const s = { scale: 0.1, offset: 10 };
    // (22.5 − 10) / 0.1 = 124.99999999999999: rounded to the whole raw value.
    expect(write(DataType.Int16, 22.5, s).value).toBe(125);
    expect(write(DataType.Int16, 21.56, s).value).toBe(116);
    expect(() => write(DataType.Int16, 4000, s)).toThrow(/out of range for Int16 \(raw 39900, allowed -32768\.\.32767\)/);
    expect(write(DataType.Double, 22.5, { scale: 2, offset: 0.5 }).value).toBe(11);
    expect(words64(write(DataType.UInt64, '30', { scale: 10, offset: 0 }), false)).toBe(3n);
    fc.assert(fc.property(fc.integer({ min: -32768, max: 32767 }), fc.constantFrom(0.1, 0.5, 2, -0.25), fc.integer({ min: -100, max: 100 }), (raw, scale, offset) => {
      const published = scaled(raw, scale, offset);
      expect(write(DataType.Int16, published, { scale, offset }).value).toBe(raw);
    }));
  });

  test('floats: finite numbers; Float range-checked; no text', () => {
    expect(write(DataType.Double, 1e300).value).toBe(1e300);
    expect(write(DataType.Float, 3.4e38).value).toBeCloseTo(3.4e38, -30);
    expect(() => write(DataType.Float, 3.5e38)).toThrow(/out of range for Float/);
    expect(() => write(DataType.Double, '21.5')).toThrow(new TypeError('expected a number for Double, got "21.5"'));
    expect(() => write(DataType.Double, 1, { scale: 0, offset: 0 })).toThrow(/cannot be unscaled \(scale 0\)/);
  });

  test('Boolean, String, ByteString: their own kinds only; scale does not apply', () => {
    expect(write(DataType.Boolean, true, { scale: 2, offset: 1 }).value).toBe(true);
    expect(write(DataType.Boolean, 0).value).toBe(false);
    expect(() => write(DataType.Boolean, 2)).toThrow(new TypeError('expected true/false (or 1/0) for Boolean, got 2'));
    expect(() => write(DataType.Boolean, 'true')).toThrow(TypeError);
    expect(write(DataType.String, 'B-2001', { scale: 2, offset: 1 }).value).toBe('B-2001');
    expect(() => write(DataType.String, 42)).toThrow(new TypeError('expected a string for String, got 42'));
    expect(write(DataType.ByteString, 'AQID/w==').value).toEqual(Buffer.from([1, 2, 3, 255]));
    expect(() => write(DataType.ByteString, 'not base64!')).toThrow(/base64 text for ByteString/);
  });

  test('DateTime: ISO 8601 with a zone, or epoch ms; nothing ambiguous, nothing outside 1601–9999', () => {
    expect((write(DataType.DateTime, '2025-01-15T06:30:00Z').value as Date).toISOString()).toBe('2025-01-15T06:30:00.000Z');
    expect((write(DataType.DateTime, '2025-01-15T07:30:00.250+01:00').value as Date).toISOString()).toBe('2025-01-15T06:30:00.250Z');
    expect((write(DataType.DateTime, 1736922600000).value as Date).toISOString()).toBe('2025-01-15T06:30:00.000Z');
    expect(() => write(DataType.DateTime, '2025-01-15T06:30:00')).toThrow(/ISO 8601 string with its zone .* for DateTime, got "2025-01-15T06:30:00"/);
    expect(() => write(DataType.DateTime, 'yesterday')).toThrow(TypeError);
    expect(() => write(DataType.DateTime, '2025-13-45T06:30:00Z')).toThrow(RangeError);
    expect(() => write(DataType.DateTime, Date.UTC(1600, 0, 1))).toThrow(/out of range for DateTime/);
  });

  test('arrays: element by element into an array node; the wrong shape either way is refused', () => {
    const v = toVariant(array(DataType.Double), [1, 2.5, 3], { scale: 0.5, offset: 0 });
    expect(v.arrayType).toBe(VariantArrayType.Array);
    expect(Array.from(v.value as Float64Array)).toEqual([2, 5, 6]);
    expect(variantValue(toVariant(array(DataType.UInt64), ['18446744073709551615', 5], plain))).toEqual(['18446744073709551615', 5]);
    expect(variantValue(toVariant({ dataType: DataType.Boolean, valueRank: -2 }, [true, 0], plain))).toEqual([true, false]);
    expect(() => toVariant(array(DataType.Int16), [1, 70000], plain)).toThrow(new RangeError('element 1: value 70000 is out of range for Int16 (raw 70000, allowed -32768..32767)'));
    expect(() => toVariant(array(DataType.Double), [1, null], plain)).toThrow(new TypeError('element 1: expected a number for Double, got null'));
    expect(() => toVariant(array(DataType.Double), 1, plain)).toThrow(new TypeError('the node holds an array of Double: send a JSON array'));
    expect(() => write(DataType.Double, [1])).toThrow(new TypeError('the node holds a single Double, not an array'));
    expect(() => toVariant({ dataType: DataType.Double, valueRank: 2 }, [1], plain)).toThrow(/2-dimensional matrix of Double: writing matrices is not supported/);
  });

  test('types floorgate does not write are refused by name', () => {
    expect(() => write(DataType.ExtensionObject, 1)).toThrow(new TypeError('writing ExtensionObject values is not supported'));
    expect(() => write(DataType.LocalizedText, 'x')).toThrow(/LocalizedText/);
  });
});

function words64(v: Variant, signed: boolean): bigint {
  return int64Words(v.value as number[], signed);
}
