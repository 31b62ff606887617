/**
 * What a write must know of a node before it can encode a value: the built-in type behind its
 * DataType attribute and its ValueRank. Servers often declare a subtype (Duration for Double,
 * UtcTime for DateTime, an enumeration for Int32, a vendor type for UInt16), so the DataType is
 * followed up its HasSubtype chain to the built-in type it is encoded as.
 */
import {
  AttributeIds, BrowseDirection, DataType, DataTypeIds, ReferenceTypeIds,
  type DataValue, type NodeId, type Variant,
} from 'node-opcua-client';
import { readValues, type RawSession } from './channel.js';
import { qualityOf } from './values.js';
import type { NodeShape } from './write-values.js';

/** Declared loosely: the value the node holds has the real type. */
const ABSTRACT = new Set<number>([DataTypeIds.BaseDataType, DataTypeIds.Number, DataTypeIds.Integer, DataTypeIds.UInteger]);
/** Built-in types are at most a few subtypes away; a longer chain is a broken type tree. */
const MAX_DEPTH = 10;
const VALUE_RANK_ANY = -2;

/** Reads DataType, ValueRank and the current Value in one request; rejects with the node's status when it has no type. */
export async function readShape(session: RawSession, nodeId: NodeId, timeoutMs: number, countRequest: () => void): Promise<NodeShape> {
  countRequest();
  const [type, rank, value] = await readValues(session, [AttributeIds.DataType, AttributeIds.ValueRank, AttributeIds.Value].map((attributeId) => ({ nodeId, attributeId })), timeoutMs);
  if (!type || qualityOf(type.statusCode) === 'bad') {
    const status = type?.statusCode.name ?? 'BadNoData';
    throw new Error(status === 'BadAttributeIdInvalid' ? `${status}: the node is not a variable` : status);
  }
  const current = value && qualityOf(value.statusCode) !== 'bad' ? value.value : undefined;
  return {
    dataType: await builtinOf(session, type.value.value as NodeId, current, countRequest),
    valueRank: numberOf(rank) ?? VALUE_RANK_ANY,
  };
}

async function builtinOf(session: RawSession, start: NodeId, current: Variant | undefined, countRequest: () => void): Promise<DataType> {
  let id = start;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (id.namespace === 0 && typeof id.value === 'number') {
      if (id.value === DataTypeIds.Enumeration) return DataType.Int32;
      if (ABSTRACT.has(id.value)) {
        if (current && current.dataType !== DataType.Null) return current.dataType;
        throw new Error(`the node is declared ${DataTypeIds[id.value]} and holds no value that shows its actual type`);
      }
      if (id.value >= DataType.Boolean && id.value <= DataType.DiagnosticInfo) return id.value as DataType;
    }
    countRequest();
    const result = await session.browse({
      nodeId: id, browseDirection: BrowseDirection.Inverse, referenceTypeId: ReferenceTypeIds.HasSubtype, includeSubtypes: false, resultMask: 0,
    });
    const parent = result.references?.[0]?.nodeId;
    if (!parent) throw new Error(`the node's data type ${start.toString()} derives from no built-in type`);
    id = parent;
  }
  throw new Error(`the node's data type ${start.toString()} is more than ${MAX_DEPTH} subtypes away from a built-in type`);
}

function numberOf(dv: DataValue | undefined): number | undefined {
  return dv && qualityOf(dv.statusCode) === 'good' && typeof dv.value.value === 'number' ? dv.value.value : undefined;
}
