/**
 * QoS 2 through `floorgate run` (mqtt.qos: 2) with the broker link cut in the middle of the
 * four-packet flow, by a proxy that reads MQTT's framing (helpers/mqtt-cut-proxy.ts):
 * - right after the broker's PUBREC: the broker holds the message, floorgate never got to
 *   release it;
 * - right after floorgate's PUBREL: the broker has released it, its PUBCOMP never comes back.
 * floorgate reconnects with a clean session — the buffer, not the MQTT session, is what
 * survives a reconnect — so the broker forgets the half-done flow and floorgate publishes the
 * message again as a new one. Nothing may be lost. A message the broker had already handed to
 * subscribers arrives twice: a duplicate the audit counts, reported here, never a gap.
 *
 * Against mosquitto and aedes, because brokers differ in when a QoS 2 message reaches
 * subscribers (at the PUBLISH or at the PUBREL), and so in what the PUBREC cut duplicates.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';
import { readBufferStats } from '../../src/buffer/stats.js';
import { runCli, stopAll, tempDir, writeGatewayConfig, type CliProcess } from '../helpers/gateway.js';
import { startMqttCutProxy, type CutPacket, type MqttCutProxy } from '../helpers/mqtt-cut-proxy.js';
import { describeBroker, startPlantBroker, type PlantBroker } from '../helpers/plant-brokers.js';
import { recordFigures } from '../helpers/results.js';
import { subscribe, type Subscriber } from '../helpers/subscriber.js';
import { auditFromSeq1 } from '../helpers/upstream.js';
import { dataMessages, eventually } from './rig.js';

for (const kind of ['mosquitto', 'aedes'] as const) {
  describeBroker(kind, `QoS 2 link cuts (${kind})`, () => {
    let dir: string;
    let broker: PlantBroker;
    let plc: ModbusSim;
    let proxy: MqttCutProxy;
    let sub: Subscriber;
    let gw: CliProcess;
    const figures: Record<string, number | string> = {};

    beforeAll(async () => {
      dir = tempDir('floorgate-qos2-');
      broker = await startPlantBroker(kind);
      plc = await startModbusSim();
      proxy = await startMqttCutProxy({ port: broker.port });
      // On the broker itself, never behind the proxy: it sees what the broker delivered.
      sub = await subscribe(broker.url, { topic: 'floorgate/#' });
      const config = writeGatewayConfig({ dir, mqttPort: proxy.port, modbusPort: plc.port, mqtt: { qos: 2 } });
      gw = runCli(['run', '-c', config]);
      await sub.waitFor((m) => dataMessages(m).length >= 5, 15_000);
    }, 30_000);

    afterAll(async () => {
      const code = await gw?.stop('SIGTERM');
      const report = gw && auditFromSeq1(sub.messages);
      if (report) recordFigures(`QoS 2 link cuts (${kind})`, { broker: broker.name, ...figures, messages: report.messages, missing: report.missing, duplicates: report.duplicates });
      await stopAll();
      await sub?.close();
      await proxy?.close();
      await plc?.close();
      await broker?.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
      if (report) {
        expect(code).toBe(0);
        expect(report.missing).toBe(0);
      }
    }, 30_000);

    /** Waits until every seq committed so far arrived: seq 1 on, no gap. */
    async function everySeqArrived(): Promise<void> {
      const committed = readBufferStats(path.join(dir, 'data', 'buffer.db')).last_seq;
      await eventually(() => {
        const r = auditFromSeq1(sub.messages);
        return r.openGaps === 0 && (r.lastSeq ?? 0) >= committed;
      }, 20_000, `every seq up to ${committed} to arrive`);
      expect(auditFromSeq1(sub.messages)).toMatchObject({ openGaps: 0, missing: 0, firstSeq: 1 });
      expect(gw.child.exitCode).toBeNull();
    }

    /**
     * Cuts as asked, waits for the reconnect and for every seq. Returns how often the message
     * whose flow was cut arrived, and whether it arrived again after the cut as backlog: sent
     * once more because floorgate never saw its PUBCOMP.
     */
    async function cutAndRecover(cutting: Promise<CutPacket>): Promise<{ copies: number; sentAgain: boolean; duplicates: number }> {
      const accepted = proxy.accepted;
      const duplicatesBefore = auditFromSeq1(sub.messages).duplicates;
      const cut = await cutting;
      const cutAt = Date.now();
      expect(cut.publish, 'the PUBLISH of the cut flow crossed the proxy').toBeDefined();
      expect(cut.publish!.qos).toBe(2);
      const seq = JSON.parse(cut.publish!.payload.toString('utf8')).seq as number;
      await eventually(() => proxy.accepted > accepted && proxy.connections > 0, 8_000, 'a new connection');
      await everySeqArrived();
      const copies = dataMessages(sub.messages).filter((m) => m.payload.seq === seq);
      return {
        copies: copies.length,
        sentAgain: copies.some((m) => m.payload.historical === true && m.arrivedAt >= cutAt),
        duplicates: auditFromSeq1(sub.messages).duplicates - duplicatesBefore,
      };
    }

    it("cut right after the broker's PUBREC: the message is published again, nothing lost", async () => {
      const r = await cutAndRecover(proxy.cutAfter('PUBREC', 'downstream'));
      figures.pubrec_cut_copies = r.copies;
      figures.pubrec_cut_duplicates = r.duplicates;
      expect(r.sentAgain).toBe(true);
    }, 40_000);

    it("cut right after floorgate's PUBREL: the broker released it, it is published again — a duplicate, nothing lost", async () => {
      const r = await cutAndRecover(proxy.cutAfter('PUBREL', 'upstream'));
      figures.pubrel_cut_copies = r.copies;
      figures.pubrel_cut_duplicates = r.duplicates;
      // The broker read the PUBREL before the end of the stream, so subscribers had the message
      // (at the latest then); floorgate, never told (no PUBCOMP), sent it again on a clean session.
      expect(r.sentAgain).toBe(true);
      expect(r.copies).toBeGreaterThanOrEqual(2);
    }, 40_000);
  });
}
