/**
 * A simulated OPC UA server (`floorgate sim opcua`, `floorgate demo`, the driver's tests): a real
 * node-opcua server on loopback with the address space of sim-space.ts, every endpoint the
 * gateway supports (None, Sign, SignAndEncrypt × Basic256Sha256, Aes128_Sha256_RsaOaep,
 * Aes256_Sha256_RsaPss, the deprecated Basic256, and Basic128Rsa15 where Node can run it) or
 * fewer, anonymous sessions and one user with a password. Tests can delete a variable or change
 * its type while it runs, as a PLC download does.
 *
 * The simulator trusts every client certificate it is shown: it is a commissioning and test
 * tool, and the gateway's own trust decisions (the side under test) do not depend on it.
 */
import os from 'node:os';
import path from 'node:path';
import { format } from 'node:util';
import {
  DataType, StatusCodes, Variant, VariantArrayType, makeApplicationUrn, resolveNodeId, setWarningLogger,
} from 'node-opcua-client';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { OPCUAServer, RegisterServerMethod } from 'node-opcua-server';
import {
  DEFAULT_SPACE, initialValue, loadSimSpace, movingValue, type SimSpace, type SimType, type SimValue, type SimVariable,
} from './sim-space.js';
import { MODES, POLICIES, securityOf, unusable, type Security } from './security.js';
import { SECURITY_MODES, type SecurityModeName, type SecurityPolicyName } from './schema.js';

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
  /** Endpoints are every mode × every policy given (None/None whenever None is a mode); default all. */
  securityModes?: readonly SecurityModeName[];
  securityPolicies?: readonly SecurityPolicyName[];
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
  /** The security of every open secure channel, as the server sees it. */
  channels(): Security[];
  /** Deletes a variable from the address space, as a PLC download that dropped it. */
  deleteVariable(nodeId: string): void;
  /** Gives a variable another definition in place (say, another type), as a PLC download does. */
  redefine(variable: SimVariable): void;
}

/** Every policy this Node can serve (Basic128Rsa15 only where RSA PKCS#1 v1.5 decryption is allowed). */
const ALL_POLICIES = (Object.keys(POLICIES) as SecurityPolicyName[]).filter((p) => unusable(p) === undefined);

/**
 * node-opcua's W27, printed once a few seconds after it loads on a Node that refuses RSA PKCS#1
 * v1.5 decryption: it suggests --security-revert=CVE-2023-46809. The simulator has nothing to
 * revert: it serves no Basic128Rsa15 endpoint where Node cannot run it (ALL_POLICIES).
 */
function isPkcs1Notice(where: unknown): boolean {
  return (where as { filename?: unknown } | null)?.filename === 'verify_pcks1';
}

/** Stable across runs so a gateway that trusted the simulator once keeps trusting it. */
const DEFAULT_SIM_PKI = path.join(os.tmpdir(), 'floorgate-opcua-sim', 'pki');

export async function startOpcuaSim(opts: OpcuaSimOptions = {}): Promise<RunningOpcuaSim> {
  // node-opcua prints its warnings on stdout, which `floorgate demo` keeps for what arrives
  // upstream; a gateway in the same process routes them to its log again (driver.ts).
  setWarningLogger((where: unknown, ...args: unknown[]) => {
    if (!isPkcs1Notice(where)) process.stderr.write(`${format(where, ...args)}\n`);
  });
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
    securityModes: (opts.securityModes ?? SECURITY_MODES).map((m) => MODES[m]),
    securityPolicies: (opts.securityPolicies ?? ALL_POLICIES).map((p) => POLICIES[p]),
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
  const variables = new SimVariables(server);
  for (const v of space.variables) variables.add(v);
  let requests = 0;
  server.on('request', () => { requests++; });
  await server.start();
  const port = server.endpoints[0].port;

  let stopped = false;
  const stop = async (abrupt: boolean) => {
    if (stopped) return;
    stopped = true;
    variables.stopMoving();
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
    channels: () => server.endpoints.flatMap((e) => e.getChannels()).flatMap((c) => {
      const security = securityOf({ securityMode: c.securityMode, securityPolicyUri: c.securityPolicy });
      return security ? [security] : [];
    }),
    deleteVariable: (nodeId) => variables.remove(nodeId),
    redefine: (v) => variables.redefine(v),
  };
}

const DATA_TYPES: Record<SimType, DataType> = {
  Boolean: DataType.Boolean, SByte: DataType.SByte, Byte: DataType.Byte, Int16: DataType.Int16, UInt16: DataType.UInt16,
  Int32: DataType.Int32, UInt32: DataType.UInt32, Int64: DataType.Int64, UInt64: DataType.UInt64, Float: DataType.Float,
  Double: DataType.Double, String: DataType.String, DateTime: DataType.DateTime, ByteString: DataType.ByteString,
};

type Namespace = ReturnType<NonNullable<OPCUAServer['engine']['addressSpace']>['getOwnNamespace']>;
type Folder = Parameters<Namespace['addFolder']>[0];
type SimNode = ReturnType<Namespace['addVariable']>;

/** The simulator's own variables: their folders, and the timers that move their values. */
class SimVariables {
  private readonly folders = new Map<string, Folder>();
  private readonly nodes = new Map<string, SimNode>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly server: OPCUAServer) {}

  private get namespace() {
    return this.server.engine.addressSpace!.getOwnNamespace();
  }

  add(v: SimVariable): void {
    const segments = v.node_id.slice('ns=1;s='.length).split('.');
    const initial = initialValue(v);
    const isArray = Array.isArray(initial);
    const variable = this.namespace.addVariable({
      organizedBy: this.folderFor(segments.slice(0, -1)),
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
    this.nodes.set(v.node_id, variable);
    this.animate(variable, v, initial);
  }

  /** Deletes the node (node-opcua tells its monitored items BadNodeIdInvalid). */
  remove(nodeId: string): void {
    const variable = this.node(nodeId);
    this.stop(nodeId);
    this.nodes.delete(nodeId);
    this.server.engine.addressSpace!.deleteNode(variable);
  }

  /** Gives a variable another type and value in place: the same node (and monitored items), as after a PLC download. */
  redefine(v: SimVariable): void {
    const variable = this.node(v.node_id);
    this.stop(v.node_id);
    const initial = initialValue(v);
    // node-opcua has no API for it: the type and the built-in type it caches from it, set directly.
    Object.assign(variable, { dataType: resolveNodeId(DATA_TYPES[v.type]), _basicDataType: DATA_TYPES[v.type], valueRank: Array.isArray(initial) ? 1 : -1 });
    this.animate(variable, v, initial);
  }

  private node(nodeId: string): SimNode {
    const variable = this.nodes.get(nodeId);
    if (!variable) throw new Error(`the simulator has no variable ${nodeId}`);
    return variable;
  }

  /** Sets the first value and, for a moving kind, starts its timer. */
  private animate(variable: SimNode, v: SimVariable, initial: SimValue | SimValue[]): void {
    variable.setValueFromSource(toVariant(v, initial), StatusCodes.Good, new Date());
    if (v.kind === 'static') return;
    const next = movingValue(v);
    const timer = setInterval(() => variable.setValueFromSource(toVariant(v, next()), StatusCodes.Good, new Date()), v.interval);
    timer.unref();
    this.timers.set(v.node_id, timer);
  }

  private stop(nodeId: string): void {
    clearInterval(this.timers.get(nodeId));
    this.timers.delete(nodeId);
  }

  stopMoving(): void {
    for (const t of this.timers.values()) clearInterval(t);
    this.timers.clear();
  }

  /** The folder of a dotted path under Objects, created on first use. */
  private folderFor(segments: string[]): Folder {
    let parent: Folder = this.server.engine.addressSpace!.rootFolder.objects;
    for (let i = 1; i <= segments.length; i++) {
      const id = segments.slice(0, i).join('.');
      let folder = this.folders.get(id);
      if (!folder) {
        folder = this.namespace.addFolder(parent, { browseName: segments[i - 1], nodeId: `ns=1;s=${id}` });
        this.folders.set(id, folder);
      }
      parent = folder;
    }
    return parent;
  }
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
