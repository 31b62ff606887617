/**
 * The gateway's side of OPC UA security, in `pki_dir` (the layout node-opcua and most OPC UA
 * tools share):
 *
 *   own/certs/client_certificate.pem   the gateway's application certificate, created on first start
 *   own/private/private_key.pem        its key
 *   trusted/certs/                     server certificates the gateway trusts
 *   rejected/                          server certificates it was shown and refused
 *   tofu-pins.json                     endpoint → thumbprint, for trust_on_first_use
 *
 * A server certificate is trusted when it (or its issuer) is in trusted/certs. With
 * trust_on_first_use, the first certificate an endpoint shows is trusted and pinned; a later,
 * different one from the same endpoint is refused like any unknown certificate, because a
 * certificate that changes silently is exactly what TOFU exists to notice.
 *
 * Devices sharing a pki_dir share one certificate manager (one identity, one trust list).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';

const open = new Map<string, { pki: Pki; refs: number }>();

export class UntrustedServer extends Error {}

export class Pki {
  private readonly reported = new Set<string>();

  private constructor(readonly dir: string, readonly manager: OPCUACertificateManager) {}

  /** The shared PKI for a folder, created (with the gateway's own certificate folder) if absent. */
  static async open(dir: string): Promise<Pki> {
    const key = path.resolve(dir);
    const entry = open.get(key);
    if (entry) {
      entry.refs++;
      return entry.pki;
    }
    fs.mkdirSync(key, { recursive: true, mode: 0o700 });
    const manager = new OPCUACertificateManager({
      rootFolder: key,
      automaticallyAcceptUnknownCertificate: false,
      // Watchers would cost a thread per folder; the trust list is re-read before each connect instead.
      disableFileWatchers: true,
    });
    await manager.initialize();
    const pki = new Pki(key, manager);
    open.set(key, { pki, refs: 1 });
    return pki;
  }

  async release(): Promise<void> {
    const entry = open.get(this.dir);
    if (!entry || --entry.refs > 0) return;
    open.delete(this.dir);
    await this.manager.dispose();
  }

  get trustedDir(): string {
    return this.manager.trustedFolder;
  }

  get rejectedDir(): string {
    return this.manager.rejectedFolder;
  }

  /**
   * Resolves when the server certificate is trusted (or has just been trusted on first use);
   * otherwise rejects with UntrustedServer, whose message names the file to move.
   */
  async verifyServer(certificate: Buffer, endpoint: string, trustOnFirstUse: boolean, log: Logger): Promise<void> {
    // Pick up certificates an operator moved into trusted/ or rejected/ since the last attempt.
    await this.manager.reloadCertificates();
    const status = await this.manager.checkCertificate(certificate);
    if (status.isGood()) return;
    const thumbprint = thumbprintOf(certificate);
    if (status.name !== 'BadCertificateUntrusted') {
      throw new UntrustedServer(`server certificate ${thumbprint} refused: ${status.name}`);
    }
    const pins = readPins(this.pinFile);
    const pinned = pins[endpoint];
    if (trustOnFirstUse && pinned === undefined) {
      await this.manager.trustCertificate(certificate);
      pins[endpoint] = thumbprint;
      writePins(this.pinFile, pins);
      log.warn({ endpoint, thumbprint, trusted: this.trustedDir },
        'trusted the server certificate on first use (trust_on_first_use); a different certificate from this endpoint will be refused');
      return;
    }
    const file = this.rejectedFile(thumbprint);
    const changed = trustOnFirstUse && pinned !== thumbprint
      ? ` It differs from the certificate first trusted for this endpoint (thumbprint ${pinned}).`
      : '';
    const message = `server certificate not trusted (BadCertificateUntrusted, thumbprint ${thumbprint}).${changed} ` +
      `If it is the right server, move ${file} to ${this.trustedDir}${path.sep} and the next attempt will connect.`;
    // Said once per certificate and endpoint: every reconnect attempt meets the same refusal.
    const key = `${endpoint} ${thumbprint}`;
    if (!this.reported.has(key)) {
      this.reported.add(key);
      log.error({ endpoint, thumbprint, rejected: file, trust_dir: this.trustedDir }, message);
    }
    throw new UntrustedServer(message);
  }

  private get pinFile(): string {
    return path.join(this.dir, 'tofu-pins.json');
  }

  /** The file node-opcua wrote into rejected/ for this certificate: "<common name>[<thumbprint>].pem". */
  private rejectedFile(thumbprint: string): string {
    const name = fs.readdirSync(this.rejectedDir).find((f) => f.endsWith(`[${thumbprint}].pem`));
    return path.join(this.rejectedDir, name ?? `[${thumbprint}].pem`);
  }
}

/** SHA-1 over the DER certificate, hex: the thumbprint OPC UA tools show. */
export function thumbprintOf(certificate: Buffer): string {
  return createHash('sha1').update(certificate).digest('hex');
}

function readPins(file: string): Record<string, string> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UntrustedServer(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function writePins(file: string, pins: Record<string, string>): void {
  // Write then rename, so a crash never leaves a half-written pin file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(pins, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}
