/**
 * Decodes floorgate's Sparkplug B format (src/forward/sparkplug-format.ts) for the tracker.
 *
 *   spBv1.0/{group}/DBIRTH/{edge}/{device}   names the alias of the device's `floorgate/seq`,
 *                                            and carries `floorgate/epoch`, the seq stream
 *   spBv1.0/{group}/DDATA/{edge}/{device}    data: `floorgate/seq` (by alias) is the seq,
 *                                            is_historical the historical flag, the other
 *                                            metrics' timestamps the readings' ts, the epoch
 *                                            that of the device's last DBIRTH (null when it
 *                                            had none: a gateway before epochs)
 *   everything else (NBIRTH, NDEATH, DDEATH, commands, STATE)   not data
 *
 * The gateway is the edge node id. Sparkplug's DDATA carries aliases only, so the decoder keeps
 * what the DBIRTHs said: a DDATA of a device whose DBIRTH this audit has not seen (it joined
 * mid-session) is invalid until the next birth — a rebirth request (NCMD) brings one. A DDATA
 * without `floorgate/seq` (the echo of a write command) is not data.
 */
import { EPOCH_METRIC, SEQ_METRIC } from '../forward/sparkplug-format.js';
import { decodePayload, numberOf, type Metric, type Payload } from '../forward/sparkplug-codec.js';
import type { Decoded, MessageDecoder } from './json.js';

const IGNORED: Decoded = { kind: 'ignored' };

export function sparkplugDecoder(): MessageDecoder {
  /** `{group}/{edge}/{device}` → alias of floorgate/seq and the epoch, from the last DBIRTH. */
  const births = new Map<string, { seqAlias: number; epoch: string | null }>();

  return (topic, bytes) => {
    const levels = topic.split('/');
    if (levels[0] !== 'spBv1.0' || levels.length !== 5) return IGNORED;
    const [, group, type, edge, device] = levels;
    if (type !== 'DBIRTH' && type !== 'DDATA') return IGNORED;
    let payload: Payload;
    try {
      payload = decodePayload(bytes);
    } catch {
      return { kind: 'invalid', gateway: edge, reason: `${type} is not a Sparkplug B payload` };
    }
    const key = `${group}/${edge}/${device}`;
    if (type === 'DBIRTH') {
      const seqMetric = payload.metrics.find((m) => m.name === SEQ_METRIC);
      const epoch = payload.metrics.find((m) => m.name === EPOCH_METRIC)?.stringValue || null;
      if (seqMetric?.alias === undefined) births.delete(key);
      else births.set(key, { seqAlias: numberOf(seqMetric.alias), epoch });
      return IGNORED;
    }

    const birth = births.get(key);
    if (birth === undefined) {
      return { kind: 'invalid', gateway: edge, reason: `DDATA of ${device} before its DBIRTH: the alias of ${SEQ_METRIC} is unknown (a rebirth brings it)` };
    }
    const seqMetric = payload.metrics.find((m) => m.alias !== undefined && numberOf(m.alias) === birth.seqAlias);
    if (!seqMetric) return IGNORED;
    if (seqMetric.longValue === undefined) return { kind: 'invalid', gateway: edge, reason: `${SEQ_METRIC} has no value` };
    const readingTs: number[] = [];
    for (const m of payload.metrics) {
      if (m === seqMetric) continue;
      if (m.timestamp === undefined) return { kind: 'invalid', gateway: edge, reason: 'a metric has no timestamp' };
      readingTs.push(numberOf(m.timestamp));
    }
    return {
      kind: 'data',
      observation: {
        gateway: edge, seq: numberOf(seqMetric.longValue), epoch: birth.epoch,
        historical: payload.metrics.some((m) => m.isHistorical === true), readingTs, clock: clockOf(payload.metrics),
      },
    };
  };
}

/** The topic filters of an audit of these edge nodes (all when empty). */
export function sparkplugTopics(gateways: readonly string[]): string[] {
  return gateways.length > 0 ? gateways.map((g) => `spBv1.0/+/+/${g}/#`) : ['spBv1.0/#'];
}

/** A DDATA's clock flag: the String property `clock` its reading metrics carry (reference §4.12). */
function clockOf(metrics: readonly Metric[]): string | undefined {
  for (const m of metrics) {
    const i = m.properties?.keys.indexOf('clock') ?? -1;
    if (i >= 0) return m.properties!.values[i].stringValue;
  }
  return undefined;
}
