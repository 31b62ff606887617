import { pino } from 'pino';
import type { ModbusTag, ModbusTcpDevice } from '../schema.js';
import type { DriverContext, PollGroup } from '../../../src/driver/contract.js';

/** A fully normalised ModbusTag, as the config loader would hand it over. */
export function mtag(partial: Partial<ModbusTag> & Pick<ModbusTag, 'area' | 'address'>): ModbusTag {
  return {
    name: partial.name ?? `${partial.area}_${partial.address}${partial.bit !== undefined ? `_b${partial.bit}` : ''}`,
    type: partial.type ?? (partial.area === 'coil' || partial.area === 'discrete' ? 'bool' : 'uint16'),
    byte_order: 'ABCD',
    poll_interval: 1000,
    scale: 1,
    offset: 0,
    writable: false,
    ...partial,
  };
}

/** A ModbusTcpDevice on 127.0.0.1 with the schema's defaults. */
export function tcpDevice(port: number, tags: ModbusTag[], over: Partial<ModbusTcpDevice> = {}): ModbusTcpDevice {
  return {
    name: 'plc', driver: 'modbus_tcp', host: '127.0.0.1', port, unit_id: 1, poll_interval: 1000, timeout: 1000,
    byte_order: 'ABCD', max_registers_per_read: 125, max_bits_per_read: 2000, max_gap: 16, tags, ...over,
  };
}

/** A DriverContext that counts requests and logs nothing. */
export function testContext(): DriverContext & { requests: number } {
  const ctx = {
    log: pino({ level: 'silent' }),
    dataDir: '/nonexistent',
    requests: 0,
    countRequest: (n = 1) => { ctx.requests += n; },
  };
  return ctx;
}

export function group(tags: readonly ModbusTag[], key = '1000ms'): PollGroup<ModbusTag> {
  return { key, interval: 1000, tags };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A signal that never aborts. */
export const never = new AbortController().signal;
