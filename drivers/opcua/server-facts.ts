/**
 * What an OPC UA driver knows of its server for one session: the operation limits and, for nsu=
 * node ids, the namespace table, learnt as the session opens; the node id of each tag and the
 * shape of each node written, learnt as they are used. A new session learns it all again.
 */
import { AttributeIds, VariableIds, coerceNodeId, type DataValue, type NodeId } from 'node-opcua-client';
import type { DriverContext } from '../../src/driver/contract.js';
import type { RawSession } from './channel.js';
import type { OpcuaDevice, OpcuaTag } from './schema.js';
import type { NodeShape } from './write-values.js';

export class ServerFacts {
  /** 0 where the server states no limit. */
  limits = { nodesPerRead: 0, itemsPerCall: 0 };
  private namespaces: string[] = [];
  private readonly nodeIds = new Map<string, NodeId | string>();
  /** Per configured node id, for writes; forgotten with the node ids at every new session. */
  readonly shapes = new Map<string, NodeShape>();

  constructor(private readonly device: OpcuaDevice, private readonly countRequest: DriverContext['countRequest']) {}

  /** What the driver needs to know of the server per session: limits and, for nsu= ids, the namespace table. */
  async learn(session: RawSession): Promise<void> {
    const limitIds = [
      VariableIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
      VariableIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
    ];
    const needNamespaces = this.device.tags.some((t) => t.node_id.startsWith('nsu='));
    const ids = needNamespaces ? [...limitIds, VariableIds.Server_NamespaceArray] : limitIds;
    this.countRequest();
    const values = await session.read(ids.map((i) => ({ nodeId: coerceNodeId(i), attributeId: AttributeIds.Value })));
    const limit = (dv: DataValue | undefined) => (dv?.statusCode.isGood() && typeof dv.value.value === 'number' ? dv.value.value : 0);
    this.limits = { nodesPerRead: limit(values[0]), itemsPerCall: limit(values[1]) };
    this.namespaces = needNamespaces && values[2]?.statusCode.isGood() ? (values[2].value.value as string[]) : [];
    this.nodeIds.clear();
    this.shapes.clear();
  }

  /** The tag's node id in this session, or why it has none (a status name and a hint). */
  resolve(tag: OpcuaTag): NodeId | string {
    let id = this.nodeIds.get(tag.node_id);
    if (id !== undefined) return id;
    const m = /^nsu=([^;]+);(.*)$/s.exec(tag.node_id);
    const index = m ? this.namespaces.indexOf(m[1]) : 0;
    if (m && index < 0) id = `BadNodeIdUnknown: the server has no namespace ${m[1]}`;
    else {
      try {
        id = coerceNodeId(m ? `ns=${index};${m[2]}` : tag.node_id);
      } catch {
        id = `BadNodeIdInvalid: ${tag.node_id}`;
      }
    }
    this.nodeIds.set(tag.node_id, id);
    return id;
  }
}
