/**
 * A simulated OPC UA server (`floorgate sim opcua`, `floorgate demo`, the driver's tests): a real
 * node-opcua server on loopback with the address space of sim-space.ts, every endpoint the
 * gateway supports (None, Sign, SignAndEncrypt × Basic256Sha256, Aes128_Sha256_RsaOaep,
 * Aes256_Sha256_RsaPss), anonymous sessions and one user with a password.
 *
 * The simulator trusts every client certificate it is shown: it is a commissioning and test
 * tool, and the gateway's own trust decisions (the side under test) do not depend on it.
 */
import os from 'node:os';
import path from 'node:path';
import { format } from 'node:util';
import {
  DataType, MessageSecurityMode, SecurityPolicy, StatusCodes, Variant, VariantArrayType, makeApplicationUrn,
  setWarningLogger,
} from 'node-opcua-client';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { OPCUAServer, RegisterServerMethod } from 'node-opcua-server';
import {
  DEFAULT_SPACE, initialValue, loadSimSpace, movingValue, type SimSpace, type SimType, type SimValue, type SimVariable,
} from './sim-space.js';

export interface OpcuaSimOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 = a free port (default). */
  port?: number;
  /** An address space file (YAML or JSON, see README); absent = the built-in oven. */
  config?: string;
  /** An address space given directly (tests); wins over `config`. */
  space?: SimSpace;
  /** Where the server keeps its certificate; the same folder gives the same certificate next time. */
  pkiDir?: string;
}

export interface RunningOpcuaSim {
  readonly port: number;
  /** Requests served so far. */
  requests(): number;
  close(): Promise<void>;
  /** opc.tcp://HOST:PORT */
  readonly endpoint: string;
  /** The server's certificate (DER). */
  readonly certificate: Buffer;
  /** The URI of namespace 1 (for nsu= node ids). */
  readonly namespaceUri: string;
  /** Stops like a power cut: every connection dropped without a goodbye, then the listener closed. */
  crash(): Promise<void>;
}

const SECURITY_MODES = [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt];
const SECURITY_POLICIES = [
  SecurityPolicy.None, SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss,
];

/** Stable across runs so a gateway that trusted the simulator once keeps trusting it. */
const DEFAULT_SIM_PKI = path.join(os.tmpdir(), 'floorgate-opcua-sim', 'pki');

export async function startOpcuaSim(opts: OpcuaSimOptions = {}): Promise<RunningOpcuaSim> {
  // node-opcua prints its warnings on stdout, which `floorgate demo` keeps for what arrives
  // upstream; a gateway in the same process routes them to its log again (driver.ts).
  setWarningLogger((...args: unknown[]) => process.stderr.write(`${format(...args)}\n`));
  const host = opts.host ?? '127.0.0.1';
  const space = opts.space ?? (opts.config ? loadSimSpace(opts.config) : DEFAULT_SPACE);
  const certificateManager = new OPCUACertificateManager({
    rootFolder: opts.pkiDir ?? DEFAULT_SIM_PKI,
    automaticallyAcceptUnknownCertificate: true,
    disableFileWatchers: true,
  });
  await certificateManager.initialize();
  const server = new OPCUAServer({
    host,
    hostname: host,
    port: opts.port ?? 0,
    serverCertificateManager: certificateManager,
    securityModes: SECURITY_MODES,
    securityPolicies: SECURITY_POLICIES,
    allowAnonymous: true,
    userManager: {
      isValidUser: (username: string, password: string) => space.user !== undefined && username === space.user.username && password === space.user.password,
    },
    // Never look for a discovery server: the simulator stands alone.
    registerServerMethod: RegisterServerMethod.HIDDEN,
    serverInfo: {
      applicationUri: makeApplicationUrn(host, 'floorgate-sim'),
      productUri: 'urn:floorgate:sim',
      applicationName: { text: 'floorgate OPC UA simulator' },
    },
    buildInfo: { productName: 'floorgate OPC UA simulator', manufacturerName: 'floorgate' },
  });
  await server.initialize();
  const timers = buildAddressSpace(server, space);
  let requests = 0;
  server.on('request', () => { requests++; });
  await server.start();
  const port = server.endpoints[0].port;

  let stopped = false;
  const stop = async (abrupt: boolean) => {
    if (stopped) return;
    stopped = true;
    for (const t of timers) clearInterval(t);
    if (abrupt) {
      await Promise.all(server.endpoints.map((e) => new Promise<void>((resolve) => e.killClientSockets(() => resolve()))));
    }
    await server.shutdown(0);
    await certificateManager.dispose();
  };
  return {
    port,
    endpoint: `opc.tcp://${host}:${port}`,
    certificate: server.getCertificate(),
    namespaceUri: server.engine.addressSpace!.getOwnNamespace().namespaceUri,
    requests: () => requests,
    close: () => stop(false),
    crash: () => stop(true),
  };
}

const DATA_TYPES: Record<SimType, DataType> = {
  Boolean: DataType.Boolean, SByte: DataType.SByte, Byte: DataType.Byte, Int16: DataType.Int16, UInt16: DataType.UInt16,
  Int32: DataType.Int32, UInt32: DataType.UInt32, Int64: DataType.Int64, UInt64: DataType.UInt64, Float: DataType.Float,
  Double: DataType.Double, String: DataType.String, DateTime: DataType.DateTime, ByteString: DataType.ByteString,
};

/** Adds the folders and variables; returns the timers that move the values. */
function buildAddressSpace(server: OPCUAServer, space: SimSpace): NodeJS.Timeout[] {
  const addressSpace = server.engine.addressSpace!;
  const ns = addressSpace.getOwnNamespace();
  const folders = new Map<string, ReturnType<typeof ns.addFolder>>();
  const folderFor = (segments: string[]) => {
    let parent: Parameters<typeof ns.addFolder>[0] = addressSpace.rootFolder.objects;
    for (let i = 1; i <= segments.length; i++) {
      const id = segments.slice(0, i).join('.');
      let folder = folders.get(id);
      if (!folder) {
        folder = ns.addFolder(parent, { browseName: segments[i - 1], nodeId: `ns=1;s=${id}` });
        folders.set(id, folder);
      }
      parent = folder;
    }
    return parent;
  };

  const timers: NodeJS.Timeout[] = [];
  for (const v of space.variables) {
    const segments = v.node_id.slice('ns=1;s='.length).split('.');
    const initial = initialValue(v);
    const isArray = Array.isArray(initial);
    const variable = ns.addVariable({
      organizedBy: folderFor(segments.slice(0, -1)),
      browseName: segments[segments.length - 1],
      nodeId: v.node_id,
      description: v.description,
      dataType: DATA_TYPES[v.type],
      valueRank: isArray ? 1 : -1,
      arrayDimensions: isArray ? [initial.length] : undefined,
      minimumSamplingInterval: 50,
      // Writable unless said otherwise, so a commissioning engineer can try values from any client.
      accessLevel: v.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      userAccessLevel: v.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
    });
    variable.setValueFromSource(toVariant(v, initial), StatusCodes.Good, new Date());
    if (v.kind === 'static') continue;
    const next = movingValue(v);
    const timer = setInterval(() => variable.setValueFromSource(toVariant(v, next()), StatusCodes.Good, new Date()), v.interval);
    timer.unref();
    timers.push(timer);
  }
  return timers;
}

function toVariant(v: SimVariable, value: SimValue | SimValue[]): Variant {
  const dataType = DATA_TYPES[v.type];
  if (Array.isArray(value)) {
    return new Variant({ dataType, arrayType: VariantArrayType.Array, value: value.map(encode) });
  }
  return new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: encode(value) });
}

/** node-opcua carries 64-bit integers as [high, low] 32-bit words (two's complement). */
function encode(value: SimValue): unknown {
  if (typeof value !== 'bigint') return value;
  const u = BigInt.asUintN(64, value);
  return [Number(u >> 32n), Number(u & 0xffffffffn)];
}
