/**
 * What arrived upstream, judged by the library `floorgate audit` runs, from seq 1 on: a test
 * gateway's first seq is 1, so a lost first message is a gap too, not a later baseline.
 */
import { AuditSession, type CompletenessReport } from '../../src/audit/completeness.js';
import type { Received } from './subscriber.js';

const TEST_GATEWAY = 'test-gw';

/** Every message of every subscriber given, as one stream (a gateway moved between brokers). */
export function auditFromSeq1(...feeds: readonly (readonly Received[])[]): CompletenessReport {
  const session = new AuditSession({ prefix: 'floorgate', gateways: [TEST_GATEWAY], tracker: { since: 1, maxGaps: 10_000 } });
  for (const m of feeds.flat().sort((a, b) => a.arrivedAt - b.arrivedAt)) session.observe(m.topic, m.raw, m.arrivedAt);
  return session.report(Date.now()).gateways[TEST_GATEWAY];
}
