/**
 * `floorgate browse`: an OPC UA device's address space below a node, to find the node ids to
 * put in the config. Walks hierarchical references depth-first (cycles skipped), then reads the
 * data type and value of every variable in batched Read requests.
 *
 * The standard Server object (i=2253) is listed but not expanded unless it is the start node:
 * its hundreds of diagnostics nodes would bury the PLC's own.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import {
  AttributeIds, BrowseDirection, DataType, NodeClass, ObjectIds, ReferenceTypeIds, VariableIds, coerceNodeId,
  type BrowseResult, type NodeId, type ReferenceDescription,
} from 'node-opcua-client';
import type { BrowseListing, BrowseRow } from '../../src/driver/contract.js';
import type { OpcuaDevice } from './schema.js';
import { dropChannel, explain, openChannel, openSession, type RawSession } from './channel.js';
import { Pki } from './pki.js';
import { adaptLibrary, defaultTuning } from './tuning.js';
import { variantValue } from './values.js';


export interface BrowseOptions {
  dataDir: string;
  log: Logger;
  /** Start node; default the Objects folder (i=85). */
  node?: string;
  maxDepth?: number;
  maxNodes?: number;
}


const READ_BATCH = 500;
const VALUE_WIDTH = 60;

/** Rejects with a one-line reason when the device cannot be reached or browsed. */
export async function browseDevice(device: OpcuaDevice, opts: BrowseOptions): Promise<BrowseListing> {
  adaptLibrary(opts.log);
  try {
    return await browseWithSession(device, opts);
  } catch (err) {
    throw new Error(explain(err));
  }
}

async function browseWithSession(device: OpcuaDevice, opts: BrowseOptions): Promise<BrowseListing> {
  const pki = await Pki.open(path.resolve(opts.dataDir, device.pki_dir));
  try {
    const tuning = defaultTuning(device);
    const client = await openChannel({
      device, pki, log: opts.log,
      sessionTimeout: tuning.sessionTimeout, transportTimeout: tuning.transportTimeout, connectTimeout: tuning.connectTimeout,
    });
    try {
      const session = await openSession(client, device);
      try {
        return await walk(session, await startNode(session, opts.node ?? `i=${ObjectIds.ObjectsFolder}`), opts);
      } finally {
        await session.close(true).catch(() => {});
      }
    } finally {
      await dropChannel(client);
    }
  } finally {
    await pki.release();
  }
}

/** The start node; nsu= ids are resolved against the server's namespace table. */
async function startNode(session: RawSession, text: string): Promise<NodeId> {
  const m = /^nsu=([^;]+);(.*)$/s.exec(text);
  if (!m) return coerceNodeId(text);
  const [dv] = await session.read([{ nodeId: coerceNodeId(VariableIds.Server_NamespaceArray), attributeId: AttributeIds.Value }]);
  const index = (dv.value.value as string[] | null)?.indexOf(m[1]) ?? -1;
  if (index < 0) throw new Error(`the server has no namespace ${m[1]}`);
  return coerceNodeId(`ns=${index};${m[2]}`);
}

async function walk(session: RawSession, start: NodeId, opts: BrowseOptions): Promise<BrowseListing> {
  const maxDepth = opts.maxDepth ?? 6;
  const maxNodes = opts.maxNodes ?? 2000;
  const rows: BrowseRow[] = [];
  const variables: Array<{ row: BrowseRow; nodeId: NodeId }> = [];
  const seen = new Set<string>([start.toString()]);
  let truncated = false;

  const visit = async (parent: NodeId, depth: number): Promise<void> => {
    for (const ref of await children(session, parent)) {
      const id = ref.nodeId.toString();
      if (seen.has(id)) continue;
      if (rows.length >= maxNodes) {
        truncated = true;
        return;
      }
      seen.add(id);
      const row: BrowseRow = {
        node_id: id,
        browse_name: `${'  '.repeat(depth)}${ref.browseName.name ?? ''}`,
        node_class: NodeClass[ref.nodeClass] ?? String(ref.nodeClass),
        data_type: '',
        value: '',
      };
      rows.push(row);
      const nodeId = coerceNodeId(id);
      if (ref.nodeClass === NodeClass.Variable) variables.push({ row, nodeId });
      const isServerObject = nodeId.namespace === 0 && nodeId.value === ObjectIds.Server;
      if (isServerObject) row.value = `(not expanded: browse --node ${id})`;
      else if (depth + 1 < maxDepth) await visit(nodeId, depth + 1);
    }
  };
  await visit(start, 0);
  await describeVariables(session, variables);
  return { rows, truncated };
}

/** The forward hierarchical references of a node, following continuation points. */
async function children(session: RawSession, nodeId: NodeId): Promise<ReferenceDescription[]> {
  let result: BrowseResult = await session.browse({
    nodeId,
    browseDirection: BrowseDirection.Forward,
    referenceTypeId: coerceNodeId(ReferenceTypeIds.HierarchicalReferences),
    includeSubtypes: true,
    nodeClassMask: 0,
    resultMask: 0x3f,
  });
  const refs = [...(result.references ?? [])];
  while (result.continuationPoint && result.continuationPoint.length > 0) {
    [result] = await session.browseNext([result.continuationPoint], false);
    refs.push(...(result.references ?? []));
  }
  return refs;
}

/** Fills in data type names and values, in batched Reads. */
async function describeVariables(session: RawSession, variables: Array<{ row: BrowseRow; nodeId: NodeId }>): Promise<void> {
  const dataTypes: NodeId[] = [];
  for (let i = 0; i < variables.length; i += READ_BATCH) {
    const chunk = variables.slice(i, i + READ_BATCH);
    const values = await session.read(chunk.flatMap((v) => [
      { nodeId: v.nodeId, attributeId: AttributeIds.DataType },
      { nodeId: v.nodeId, attributeId: AttributeIds.Value },
    ]));
    chunk.forEach((v, k) => {
      const type = values[2 * k];
      const value = values[2 * k + 1];
      dataTypes[i + k] = type.value.value as NodeId;
      v.row.value = showValue(value.statusCode.isGood() ? undefined : value.statusCode.name, () => variantValue(value.value));
    });
  }
  const names = await dataTypeNames(session, dataTypes.filter(Boolean));
  variables.forEach((v, i) => {
    v.row.data_type = dataTypes[i] ? names.get(dataTypes[i].toString()) ?? dataTypes[i].toString() : '';
  });
}

/** Built-in types by their enum name, others by the browse name of their DataType node. */
async function dataTypeNames(session: RawSession, ids: NodeId[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const unknown: NodeId[] = [];
  for (const id of ids) {
    const key = id.toString();
    if (names.has(key)) continue;
    const builtin = id.namespace === 0 && typeof id.value === 'number' ? DataType[id.value] : undefined;
    if (builtin) names.set(key, builtin);
    else if (!unknown.some((u) => u.toString() === key)) unknown.push(id);
  }
  for (let i = 0; i < unknown.length; i += READ_BATCH) {
    const chunk = unknown.slice(i, i + READ_BATCH);
    const values = await session.read(chunk.map((nodeId) => ({ nodeId, attributeId: AttributeIds.BrowseName })));
    chunk.forEach((id, k) => {
      const name = (values[k].value.value as { name?: string } | null)?.name;
      if (name) names.set(id.toString(), name);
    });
  }
  return names;
}

function showValue(badStatus: string | undefined, value: () => unknown): string {
  if (badStatus) return badStatus;
  let text: string;
  try {
    const v = value();
    text = typeof v === 'bigint' ? v.toString() : JSON.stringify(v) ?? '';
  } catch (err) {
    text = `(${(err as Error).message})`;
  }
  return text.length > VALUE_WIDTH ? `${text.slice(0, VALUE_WIDTH - 1)}…` : text;
}
