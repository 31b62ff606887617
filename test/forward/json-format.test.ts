import { describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/buffer/types.js';
import { encodeReadings, encodeTagReading } from '../../src/message/encode.js';
import { JsonFormat } from '../../src/forward/json-format.js';
import { testConfig } from './config.js';

const ts = 1764396220123;
const batch: StoredMessage = {
  seq: 48213, device: 'press-1', tag: null, readings: 2, ts,
  body: encodeReadings([
    { tag: 'temperature', value: 21.5, quality: 'good', ts },
    { tag: 'running', value: null, quality: 'bad', ts, error: 'timeout' },
  ]),
};
const single: StoredMessage = {
  seq: 7, device: 'press-1', tag: 'temperature', readings: 1, ts,
  body: encodeTagReading({ tag: 'temperature', value: 21.5, quality: 'good', ts }),
};

const EPOCH = '3f9a0c17be42';

describe('JsonFormat', () => {
  const format = new JsonFormat(testConfig({ mqtt: { topic_prefix: 'floorgate' } }), '1.2.3', EPOCH);

  it('per_device: topic and payload as reference §3', () => {
    expect(format.topic(batch)).toBe('floorgate/gw-test/press-1');
    expect(JSON.parse(String(format.payload(batch, false)))).toEqual({
      seq: 48213, epoch: EPOCH, gateway: 'gw-test', device: 'press-1',
      readings: [
        { tag: 'temperature', value: 21.5, quality: 'good', ts },
        { tag: 'running', value: null, quality: 'bad', ts, error: 'timeout' },
      ],
    });
  });

  it('per_device: historical flag only on backlog', () => {
    expect(JSON.parse(String(format.payload(batch, true)))).toMatchObject({ seq: 48213, historical: true, device: 'press-1' });
    expect(JSON.parse(String(format.payload(batch, false)))).not.toHaveProperty('historical');
  });

  it('per_tag: topic and payload as reference §3', () => {
    expect(format.topic(single)).toBe('floorgate/gw-test/press-1/temperature');
    expect(JSON.parse(String(format.payload(single, false)))).toEqual({ seq: 7, epoch: EPOCH, value: 21.5, quality: 'good', ts });
    expect(JSON.parse(String(format.payload(single, true)))).toEqual({ seq: 7, epoch: EPOCH, historical: true, value: 21.5, quality: 'good', ts });
  });

  it('per_tag: bad readings carry null and the error', () => {
    const bad = { ...single, body: encodeTagReading({ tag: 'temperature', value: null, quality: 'bad', ts, error: 'CRC error' }) };
    expect(JSON.parse(String(format.payload(bad, false)))).toEqual({ seq: 7, epoch: EPOCH, value: null, quality: 'bad', ts, error: 'CRC error' });
  });

  it('escapes the gateway and device names in the payload', () => {
    const f = new JsonFormat(testConfig(), '0', EPOCH);
    const odd = { ...batch, device: 'dev"1' };
    expect(JSON.parse(String(f.payload(odd, false)))).toMatchObject({ gateway: 'gw-test', device: 'dev"1' });
  });

  it('non-ASCII names and values: the payload is the envelope and the body as UTF-8, byte for byte', () => {
    const f = new JsonFormat(testConfig(), '0', EPOCH);
    const reading = { tag: 'Temperatur °C', value: 'ä€😀', quality: 'good' as const, ts };
    const perDevice = { ...batch, device: 'Presse-ü', readings: 1, body: encodeReadings([reading]) };
    expect(JSON.parse(String(f.payload(perDevice, false)))).toEqual({ seq: 48213, epoch: EPOCH, gateway: 'gw-test', device: 'Presse-ü', readings: [reading] });
    const perTag = { ...single, device: 'Presse-ü', tag: reading.tag, body: encodeTagReading(reading) };
    expect(JSON.parse(String(f.payload(perTag, true)))).toEqual({ seq: 7, epoch: EPOCH, historical: true, value: 'ä€😀', quality: 'good', ts });
    const compact = { ...batch, device: 'Presse-ü', body: '{"groups":[{"ts":1,"values":{"ü":"€"}}]}' };
    expect(JSON.parse(String(f.payload(compact, false)))).toEqual({ seq: 48213, epoch: EPOCH, gateway: 'gw-test', device: 'Presse-ü', groups: [{ ts: 1, values: { ü: '€' } }] });
  });

  it('status: retained online with ts and version, offline on stop, offline as the will', () => {
    const [online] = format.online();
    expect(online).toMatchObject({ topic: 'floorgate/gw-test/status', qos: 1, retain: true });
    const parsed = JSON.parse(online.payload.toString());
    expect(parsed).toMatchObject({ online: true, version: '1.2.3' });
    expect(Math.abs(parsed.ts - Date.now())).toBeLessThan(5_000);
    expect(format.offline()[0]).toMatchObject({ topic: 'floorgate/gw-test/status', retain: true });
    expect(JSON.parse(format.offline()[0].payload.toString())).toMatchObject({ online: false });
  });

  describe('the buffer\'s epoch', () => {
    const f = format;

    it('every data message carries it right after seq, before historical', () => {
      expect(String(f.payload(batch, false))).toMatch(/^\{"seq":48213,"epoch":"3f9a0c17be42","gateway":"gw-test","device":"press-1","readings":\[/);
      expect(String(f.payload(batch, true))).toMatch(/^\{"seq":48213,"epoch":"3f9a0c17be42","historical":true,"gateway":/);
      expect(String(f.payload(single, false))).toBe(`{"seq":7,"epoch":"3f9a0c17be42","value":21.5,"quality":"good","ts":${ts}}`);
      expect(String(f.payload(single, true))).toBe(`{"seq":7,"epoch":"3f9a0c17be42","historical":true,"value":21.5,"quality":"good","ts":${ts}}`);
    });

    it('the status carries it too: online, offline on stop, and the will', () => {
      expect(JSON.parse(f.online()[0].payload.toString())).toMatchObject({ online: true, epoch: EPOCH, version: '1.2.3' });
      expect(JSON.parse(f.offline()[0].payload.toString())).toMatchObject({ online: false, epoch: EPOCH });
      expect(f.will()).toEqual({ topic: 'floorgate/gw-test/status', payload: '{"online":false,"epoch":"3f9a0c17be42"}', qos: 1, retain: true });
    });
  });
});
