/**
 * The pure parts of the OPC UA driver: value and quality mapping, the link state machine's
 * table, and the simulator's address space validation.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { DataType, DataValue, LocalizedText, QualifiedName, StatusCodes, Variant, VariantArrayType } from 'node-opcua-client';
import { int64Words, narrow, qualityOf, scaled, toReading, variantValue } from '../values.js';
import { IllegalTransition, RECOVERING, transition, type LinkEvent, type LinkState } from '../machine.js';
import { DEFAULT_SPACE, SimSpaceError, movingValue, parseSimSpace } from '../sim-space.js';
import { device } from './helpers.js';

const words = (b: bigint): [number, number] => {
  const u = BigInt.asUintN(64, b);
  return [Number(u >> 32n), Number(u & 0xffffffffn)];
};

const scalarOf = (dataType: DataType, value: unknown) => new Variant({ dataType, arrayType: VariantArrayType.Scalar, value });
const tag = device({ endpoint: 'opc.tcp://127.0.0.1:4840', tags: [{ name: 't', node_id: 'ns=1;s=X' }] }).tags[0];

describe('opcua values', () => {
  test('64-bit integers: exact numbers within ±(2^53−1), bigints beyond', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (b) => {
      expect(int64Words(words(b), true)).toBe(b);
      const v = narrow(b);
      if (b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)) expect(v).toBe(Number(b));
      else expect(v).toBe(b);
    }));
    expect(int64Words([0xffffffff, 0xffffffff], false)).toBe(2n ** 64n - 1n);
    expect(variantValue(scalarOf(DataType.Int64, words(-5n)))).toBe(-5);
    expect(variantValue(scalarOf(DataType.UInt64, words(2n ** 63n)))).toBe(2n ** 63n);
  });

  test('scalars of every mapped type', () => {
    expect(variantValue(scalarOf(DataType.Boolean, true))).toBe(true);
    expect(variantValue(scalarOf(DataType.SByte, -8))).toBe(-8);
    expect(variantValue(scalarOf(DataType.UInt32, 4294967295))).toBe(4294967295);
    expect(variantValue(scalarOf(DataType.Float, 1.5))).toBe(1.5);
    expect(variantValue(scalarOf(DataType.String, 'x'))).toBe('x');
    expect(variantValue(scalarOf(DataType.DateTime, new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6))))).toBe('2025-01-02T03:04:05.006Z');
    expect(variantValue(scalarOf(DataType.ByteString, Buffer.from([0, 1, 254])))).toBe('AAH+');
    expect(variantValue(scalarOf(DataType.LocalizedText, new LocalizedText({ text: 'hot', locale: 'en' })))).toBe('hot');
    expect(variantValue(scalarOf(DataType.QualifiedName, new QualifiedName({ name: 'Zone', namespaceIndex: 1 })))).toBe('Zone');
    expect(variantValue(scalarOf(DataType.StatusCode, StatusCodes.BadTimeout))).toBe('BadTimeout');
    expect(variantValue(new Variant({ dataType: DataType.Null }))).toBeNull();
  });

  test('arrays: typed arrays and 64-bit elements become JSON arrays', () => {
    const doubles = new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1.5, 2.5] });
    expect(variantValue(doubles)).toEqual([1.5, 2.5]);
    const big = new Variant({ dataType: DataType.Int64, arrayType: VariantArrayType.Array, value: [words(-(2n ** 60n)), words(7n)] });
    expect(variantValue(big)).toEqual(['-1152921504606846976', 7]);
    const texts = new Variant({ dataType: DataType.String, arrayType: VariantArrayType.Array, value: ['a', 'b'] });
    expect(variantValue(texts)).toEqual(['a', 'b']);
  });

  test('scale and offset apply to numbers and numeric arrays only', () => {
    expect(scaled(10, 0.1, 1)).toBeCloseTo(2);
    expect(scaled(10n, 2, 0)).toBe(20);
    expect(scaled([1, 2], 10, 0)).toEqual([10, 20]);
    expect(scaled('x', 10, 1)).toBe('x');
    expect(scaled(2n ** 60n, 1, 0)).toBe(2n ** 60n);
  });

  test('quality from the status severity; uncertain keeps the value, bad drops it; both name the status', () => {
    expect(qualityOf(StatusCodes.Good)).toBe('good');
    expect(qualityOf(StatusCodes.UncertainLastUsableValue)).toBe('uncertain');
    expect(qualityOf(StatusCodes.BadNodeIdUnknown)).toBe('bad');
    const at = new Date(1_700_000_000_000);
    const value = scalarOf(DataType.Double, 21.5);
    expect(toReading(tag, new DataValue({ value, statusCode: StatusCodes.Good, sourceTimestamp: at }), 1))
      .toEqual({ tag: 't', value: 21.5, quality: 'good', ts: at.getTime(), sourceTime: true });
    expect(toReading(tag, new DataValue({ value, statusCode: StatusCodes.UncertainLastUsableValue, sourceTimestamp: at }), 1))
      .toEqual({ tag: 't', value: 21.5, quality: 'uncertain', ts: at.getTime(), error: 'UncertainLastUsableValue', sourceTime: true });
    expect(toReading(tag, new DataValue({ value, statusCode: StatusCodes.BadSensorFailure, serverTimestamp: at }), 1))
      .toEqual({ tag: 't', value: null, quality: 'bad', ts: at.getTime(), error: 'BadSensorFailure', sourceTime: true });
    // No timestamp at all: the time the driver received it, by the gateway's clock.
    expect(toReading(tag, new DataValue({ value, statusCode: StatusCodes.Good }), 42)).toEqual({ tag: 't', value: 21.5, quality: 'good', ts: 42 });
  });

  test('a type without a JSON form is a bad reading that says why, not a crash', () => {
    const s = toReading(tag, new DataValue({ value: new Variant({ dataType: DataType.DiagnosticInfo, value: {} }) }), 1);
    expect(s).toMatchObject({ quality: 'bad', value: null, error: 'unsupported data type DiagnosticInfo' });
  });
});

describe('opcua link state machine', () => {
  const happyReactivation: Array<[LinkEvent, LinkState]> = [
    ['connect', 'connecting'], ['connected', 'ready'], ['lost_subscribed', 'reconnecting'], ['channel_failed', 'reconnecting'],
    ['channel_open', 'reactivating'], ['reactivated', 'republishing'], ['republished', 'repairing_items'],
    ['items_checked', 'resyncing'], ['resynced', 'ready'],
  ];

  test('a reactivation walks the documented path', () => {
    let s: LinkState = 'idle';
    for (const [event, expected] of happyReactivation) expect(s = transition(s, event)).toBe(expected);
  });

  test('a lost session falls back to transfer, then to a new subscription', () => {
    expect(transition('reactivating', 'session_gone')).toBe('new_session');
    expect(transition('new_session', 'session_created')).toBe('transferring');
    expect(transition('transferring', 'transfer_failed')).toBe('recreating');
    expect(transition('recreating', 'recreated')).toBe('repairing_items');
    expect(transition('republishing', 'subscription_gone')).toBe('transferring');
  });

  test('every recovery state returns to reconnecting on a channel or session failure; close ends anywhere', () => {
    for (const s of RECOVERING) {
      expect(transition(s, 'channel_failed')).toBe('reconnecting');
      expect(transition(s, 'session_failed')).toBe('reconnecting');
      expect(transition(s, 'close')).toBe('idle');
    }
    expect(transition('ready', 'lost')).toBe('broken');
    expect(transition('broken', 'close')).toBe('idle');
  });

  test('an event a state does not expect is a bug, reported as such', () => {
    expect(() => transition('idle', 'reactivated')).toThrow(IllegalTransition);
    expect(() => transition('broken', 'channel_open')).toThrow(/not valid in state broken/);
  });
});

describe('opcua simulator address space', () => {
  test('the built-in oven has the documented nodes', () => {
    const ids = DEFAULT_SPACE.variables.map((v) => v.node_id);
    expect(ids).toEqual(expect.arrayContaining(['ns=1;s=Oven.Zone1.Temperature', 'ns=1;s=Oven.BatchId', 'ns=1;s=Oven.Counter']));
  });

  test('mistakes are named with their key', () => {
    const bad = (variables: unknown[]) => () => parseSimSpace({ variables }, 'sim.yaml');
    expect(bad([{ node_id: 'ns=2;s=X', type: 'Double' }])).toThrow(/sim\.yaml: variables\.0\.node_id: use ns=1;s=/);
    expect(bad([{ node_id: 'ns=1;s=X', type: 'String', kind: 'sine' }])).toThrow(/sine needs a numeric type/);
    expect(bad([{ node_id: 'ns=1;s=X', type: 'Byte', value: 300 }])).toThrow(/variables\.0\.value: 300 is not a valid Byte/);
    expect(bad([{ node_id: 'ns=1;s=X', type: 'Int32' }, { node_id: 'ns=1;s=X', type: 'Int32' }])).toThrow(/duplicate node id/);
    expect(bad([{ node_id: 'ns=1;s=X', type: 'Int32', colour: 'red' }])).toThrow(SimSpaceError);
  });

  test('moving values stay in their bounds and type', () => {
    const [walk] = parseSimSpace({ variables: [{ node_id: 'ns=1;s=W', type: 'Int16', kind: 'random_walk', min: -5, max: 5, step: 3 }] }).variables;
    const next = movingValue(walk);
    for (let i = 0; i < 200; i++) {
      const v = next() as number;
      expect(Number.isInteger(v) && v >= -5 && v <= 5).toBe(true);
    }
    const [counter] = parseSimSpace({ variables: [{ node_id: 'ns=1;s=C', type: 'Byte', kind: 'counter', step: 100 }] }).variables;
    const count = movingValue(counter);
    expect([count(), count(), count()]).toEqual([100, 200, 44]);
  });
});
