/**
 * A TCP proxy on 127.0.0.1 (free port) that reads MQTT's framing as the bytes cross, so a test
 * can cut the link at an exact point of a protocol flow — right after the broker's PUBREC,
 * right after the client's PUBREL — which a byte-count cut (tcp-proxy.ts cutMidFrame) cannot aim
 * at. Packets are passed on whole, in order; a packet still arriving is held until complete.
 *
 * cutAfter(type, direction): the next packet of that type crossing that way is passed on whole,
 * then its receiver gets the end of the stream (so it reads the packet before it sees the close)
 * and the sender's connection is destroyed; nothing else crosses that connection any more.
 * One-shot; resolves with the packet and the PUBLISH of the same flow (same packet id), so a test
 * can name the message whose acknowledgement was cut.
 *
 * `flows` keeps every QoS 1/2 PUBLISH the client sent with the broker's first answer to it
 * (PUBACK or PUBREC; null while none came, and for good once the connection is gone): what a
 * broker makes of a QoS 2 publish — the four-packet flow, a downgrade to QoS 1, a hang-up — as
 * seen on the wire.
 */
import net from 'node:net';

/** upstream: client → broker; downstream: broker → client. */
export type Direction = 'upstream' | 'downstream';

const TYPES = ['RESERVED', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'] as const;
export type PacketType = (typeof TYPES)[number];

export interface Publish {
  readonly topic: string;
  readonly qos: number;
  readonly packetId: number | null;
  readonly payload: Buffer;
}

export interface CutPacket {
  readonly type: PacketType;
  readonly direction: Direction;
  readonly packetId: number;
  /** The PUBLISH this acknowledgement belongs to, when it crossed this connection. */
  readonly publish: Publish | undefined;
}

export interface PublishFlow {
  readonly publish: Publish;
  answer: 'PUBACK' | 'PUBREC' | null;
}

export interface MqttCutProxy {
  readonly port: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Connections currently open. */
  readonly connections: number;
  readonly flows: readonly PublishFlow[];
  cutAfter(type: PacketType, direction: Direction): Promise<CutPacket>;
  close(): Promise<void>;
}

interface Armed {
  readonly type: PacketType;
  readonly direction: Direction;
  readonly done: (cut: CutPacket) => void;
}

interface Link {
  dead: boolean;
  /** The client's publishes the broker has not answered yet, by packet id. */
  readonly unanswered: Map<number, PublishFlow>;
  /** QoS > 0 PUBLISHes per sending direction, by packet id: what an acknowledgement refers to. */
  readonly publishes: Record<Direction, Map<number, Publish>>;
}

/** Remaining length (1–4 bytes from offset 1): [value, header length], or null until complete. */
function remainingLength(buf: Buffer): [number, number] | null {
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    if (i >= buf.length) return null;
    value += (buf[i] & 0x7f) * 128 ** (i - 1);
    if ((buf[i] & 0x80) === 0) return [value, i + 1];
  }
  throw new Error('malformed MQTT remaining length');
}

function parsePublish(flags: number, body: Buffer): Publish {
  const qos = (flags >> 1) & 3;
  const topicLength = body.readUInt16BE(0);
  const topic = body.subarray(2, 2 + topicLength).toString('utf8');
  const packetId = qos > 0 ? body.readUInt16BE(2 + topicLength) : null;
  return { topic, qos, packetId, payload: Buffer.from(body.subarray(2 + topicLength + (qos > 0 ? 2 : 0))) };
}

const opposite = (d: Direction): Direction => (d === 'upstream' ? 'downstream' : 'upstream');

export async function startMqttCutProxy(target: { host?: string; port: number }): Promise<MqttCutProxy> {
  const host = target.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  let armed: Armed | null = null;
  let accepted = 0;
  let open = 0;
  const flows: PublishFlow[] = [];

  const relay = (link: Link, from: net.Socket, to: net.Socket, direction: Direction) => {
    let pending: Buffer = Buffer.alloc(0);
    from.on('data', (chunk: Buffer) => {
      if (link.dead) return;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const header = remainingLength(pending);
        if (!header || pending.length < header[1] + header[0]) return;
        const size = header[1] + header[0];
        const packet = pending.subarray(0, size);
        pending = pending.subarray(size);
        const type = TYPES[packet[0] >> 4];
        const body = packet.subarray(header[1]);
        if (type === 'PUBLISH') {
          const publish = parsePublish(packet[0] & 0x0f, body);
          if (publish.packetId !== null) {
            link.publishes[direction].set(publish.packetId, publish);
            if (direction === 'upstream') {
              const flow: PublishFlow = { publish, answer: null };
              flows.push(flow);
              link.unanswered.set(publish.packetId, flow);
            }
          }
        } else if ((type === 'PUBACK' || type === 'PUBREC') && direction === 'downstream') {
          const packetId = body.readUInt16BE(0);
          const flow = link.unanswered.get(packetId);
          if (flow) flow.answer = type;
          link.unanswered.delete(packetId);
        }
        to.write(packet);
        const cut = armed;
        if (cut && cut.type === type && cut.direction === direction) {
          armed = null;
          link.dead = true;
          // The receiver reads the packet, then the end of the stream; the sender just loses the link.
          to.end();
          from.destroy();
          const packetId = body.readUInt16BE(0);
          // A PUBREL comes from the PUBLISH's sender, so the PUBLISH crossed the same way; PUBACK,
          // PUBREC and PUBCOMP come from its receiver, so it crossed the other way.
          const publishedBy = type === 'PUBREL' ? direction : opposite(direction);
          cut.done({ type, direction, packetId, publish: link.publishes[publishedBy].get(packetId) });
          return;
        }
      }
    });
  };

  const server = net.createServer((client) => {
    accepted++;
    open++;
    const upstream = net.connect(target.port, host);
    const link: Link = { dead: false, unanswered: new Map(), publishes: { upstream: new Map(), downstream: new Map() } };
    relay(link, client, upstream, 'upstream');
    relay(link, upstream, client, 'downstream');
    let closed = 0;
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(a);
      a.on('error', () => {});
      a.on('close', () => {
        sockets.delete(a);
        if (++closed === 1) open--;
        // A cut link closes by itself once the receiver has read the end of the stream.
        if (!link.dead) b.destroy();
      });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    get accepted() { return accepted; },
    get connections() { return open; },
    flows,
    cutAfter(type, direction) {
      return new Promise<CutPacket>((resolve) => { armed = { type, direction, done: resolve }; });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
