/**
 * Readings from DataValues, saying in the log — once per change, not per reading — what a tag's
 * node did behind them: it turned bad (deleted by a PLC download: BadNodeIdUnknown; a sensor
 * failure) or it now holds another data type (Double → String), which consumers and `scale`
 * would otherwise meet unannounced. Polls and the subscription alike go through one watch.
 */
import type { Logger } from 'pino';
import { DataType, VariantArrayType, type DataValue } from 'node-opcua-client';
import type { Reading } from '../../src/driver/contract.js';
import type { OpcuaTag } from './schema.js';
import { qualityOf, toReading } from './values.js';

export class NodeWatch {
  /** Per tag name: the bad status last warned about, while the node stays bad. */
  private readonly badStatus = new Map<string, string>();
  /** Per tag name: the data type last read, as a number (cheap to compare at every reading). */
  private readonly types = new Map<string, number>();

  /** `retyped` hears of a node whose data type changed (what was learnt for writes is stale). */
  constructor(private readonly log: Logger, private readonly retyped: (tag: OpcuaTag) => void) {}

  reading(tag: OpcuaTag, dv: DataValue, now: number): Reading {
    const reading = toReading(tag, dv, now);
    if (qualityOf(dv.statusCode) === 'bad') this.bad(tag, dv.statusCode.name);
    else {
      if (this.badStatus.delete(tag.name)) this.log.info({ tag: tag.name, node_id: tag.node_id }, 'opcua node readable again');
      this.typeSeen(tag, dv);
    }
    return reading;
  }

  private bad(tag: OpcuaTag, status: string): void {
    if (this.badStatus.get(tag.name) === status) return;
    this.badStatus.set(tag.name, status);
    this.log.warn({ tag: tag.name, node_id: tag.node_id, status }, 'opcua node bad: the tag stays bad while the server answers so');
  }

  private typeSeen(tag: OpcuaTag, dv: DataValue): void {
    const { dataType, arrayType } = dv.value;
    if (dataType === DataType.Null) return;
    const type = dataType * 4 + arrayType;
    const before = this.types.get(tag.name);
    this.types.set(tag.name, type);
    if (before === undefined || before === type) return;
    this.log.warn({ tag: tag.name, node_id: tag.node_id, from: typeName(before), to: typeName(type) },
      'opcua node data type changed: its readings now carry the new type');
    this.retyped(tag);
  }
}

/** Double, or Double[] for an array (Double[][] for a matrix). */
function typeName(type: number): string {
  const arrayType = type % 4;
  const suffix = arrayType === VariantArrayType.Array ? '[]' : arrayType === VariantArrayType.Matrix ? '[][]' : '';
  return `${DataType[Math.floor(type / 4)]}${suffix}`;
}
