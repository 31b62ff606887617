/**
 * A simulated Modbus TCP PLC on modbus-serial's ServerTCP, for `floorgate demo`, `floorgate sim
 * modbus` and tests. Values come from a register map (sim-map.ts), encoded with the driver's own
 * codec; the bench and the tests count the requests it receives and inject faults into it, and
 * the fault suite keeps what it served (onServed) to judge what arrived upstream against it.
 *
 * Unmapped addresses read as 0. A client's write holds the value it wrote: the entry stops
 * moving, like a setpoint. ServerTCP answers about 700 requests/s (it defers every reply by a
 * timer): plenty for tests, the bench says so where it matters.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ServerTCP, type IServiceVector } from 'modbus-serial';
import type { ModbusArea } from './schema.js';
import { encodeRegisters } from './codec.js';
import { defaultSimMap, loadSimMap, type SimMap, type SimPoint } from './sim-map.js';

export { defaultSimMap, loadSimMap, type SimMap, type SimEntry } from './sim-map.js';

export interface SimFaults {
  /** Addresses that answer exception 02 (illegal data address) whenever a request touches them. */
  readonly illegal?: Partial<Record<ModbusArea, readonly number[]>>;
  /** Register reads longer than this answer `tooLongException` instead of data. */
  readonly maxRegistersPerRead?: number;
  /** 3 (illegal data value, the default) or 4 (server device failure). */
  readonly tooLongException?: 3 | 4;
  /**
   * silent: requests are taken and never answered; garbage: each is answered with bytes that are
   * not Modbus (sent to every connected client).
   */
  readonly mode?: 'normal' | 'silent' | 'garbage';
}

export interface ModbusSimOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 or absent: a free port. */
  readonly port?: number;
  /** Absent: answer every unit id. */
  readonly unitId?: number;
  /** A map, or the path of a YAML/JSON file holding one. Default: the demo PLC (defaultSimMap). */
  readonly map?: SimMap | string;
  /**
   * Called once per request answered with data, as soon as the reply is on its way; not for
   * exceptions or injected faults. Absent (the demo, `floorgate sim`): nothing is kept.
   */
  readonly onServed?: (request: ServedRequest) => void;
}

/** One request the simulator answered with data. */
export interface ServedRequest {
  /** Date.now() when its values were taken; the reply is written in the same tick. */
  readonly time: number;
  readonly unit: number;
  /** 1–4 reads; 5, 6, 15, 16 writes. */
  readonly fc: number;
  readonly address: number;
  readonly count: number;
  /** Registers (uint16) or bits as served; for a write, what was written. */
  readonly values: readonly (number | boolean)[];
}

export interface ModbusSim {
  readonly port: number;
  /** Requests received so far: all, or those of one function code. */
  requests(functionCode?: number): number;
  /** Replace the injected faults; `setFault({})` clears them. */
  setFault(faults: SimFaults): void;
  close(): Promise<void>;
}

const GARBAGE = Buffer.from('this is not modbus\r\n', 'latin1');
const MAX_WIDTH = 125;

class ModbusError extends Error {
  constructor(readonly modbusErrorCode: number, message: string) {
    super(message);
  }
}

const never = (): Promise<never> => new Promise<never>(() => undefined);

/** One request, gathered from the vector calls it is made of (see `count` in startModbusSim). */
interface Burst {
  fc: number;
  calls: number;
  /** What its calls answered so far; kept only for onServed. */
  served?: { time: number; unit: number; address: number; values: (number | boolean)[] };
  /** Answered with an exception, or not at all (an injected fault): nothing was served. */
  failed: boolean;
}

type Answer<T> = T | Promise<T>;

/**
 * The vector ServerTCP really accepts; its typings allow no promise inside an array. `unit` is
 * the request's unit id, passed after the function's own arguments.
 */
interface SimVector {
  getHoldingRegister(addr: number, unit: number): Answer<number>;
  getMultipleHoldingRegisters(addr: number, length: number, unit: number): Answer<number>[];
  getInputRegister(addr: number, unit: number): Answer<number>;
  getMultipleInputRegisters(addr: number, length: number, unit: number): Answer<number>[];
  getCoil(addr: number, unit: number): Answer<boolean>;
  getDiscreteInput(addr: number, unit: number): Answer<boolean>;
  setRegister(addr: number, value: number, unit: number): Answer<void>;
  setRegisterArray(addr: number, values: number[], unit: number): Answer<void>;
  setCoil(addr: number, value: boolean, unit: number): Answer<void>;
}

/** Wrap an integer into its type's range, so a counter rolls over like a PLC's would. */
function wrapInteger(type: string, n: number): number {
  const bits = type === 'int16' || type === 'uint16' ? 16 : type === 'int32' || type === 'uint32' ? 32 : 0;
  const r = Math.round(n);
  if (bits === 0) return type === 'uint64' ? Math.max(0, r) : r;
  const m = 2 ** bits;
  const u = ((r % m) + m) % m;
  return type.startsWith('int') && u >= m / 2 ? u - m : u;
}

/** Numbers drive bools by the parity of their integer part: a counter toggles. */
function asBool(value: boolean | number | string): boolean {
  return typeof value === 'boolean' ? value : typeof value === 'number' ? (Math.floor(value) & 1) === 1 : value !== '';
}

/** The four areas of one simulated PLC, driven by the map; the TCP and the RTU simulators serve it. */
export class PlcImage {
  private readonly registers = { holding: new Uint16Array(65536), input: new Uint16Array(65536) };
  private readonly bits = { coil: new Uint8Array(65536), discrete: new Uint8Array(65536) };
  private readonly byArea = new Map<ModbusArea, SimPoint[]>();
  /** Entries a client wrote to: they keep the written value. */
  private readonly held = new Set<SimPoint>();
  private readonly t0 = performance.now();

  constructor(points: readonly SimPoint[]) {
    for (const p of points) {
      const list = this.byArea.get(p.tag.area) ?? [];
      list.push(p);
      this.byArea.set(p.tag.area, list);
    }
    for (const list of this.byArea.values()) list.sort((a, b) => a.tag.address - b.tag.address);
    for (const [area, list] of this.byArea) this.refresh(area, 0, 65535, list);
  }

  /** Entries of `area` overlapping [first, last]. */
  private overlapping(area: ModbusArea, first: number, last: number): SimPoint[] {
    const list = this.byArea.get(area) ?? [];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].tag.address < first - MAX_WIDTH + 1) lo = mid + 1;
      else hi = mid;
    }
    const out: SimPoint[] = [];
    for (let i = lo; i < list.length && list[i].tag.address <= last; i++) {
      if (list[i].tag.address + list[i].width - 1 >= first) out.push(list[i]);
    }
    return out;
  }

  private refresh(area: ModbusArea, first: number, last: number, points = this.overlapping(area, first, last)): void {
    const elapsed = performance.now() - this.t0;
    for (const p of points) {
      if (this.held.has(p)) continue;
      const value = p.at(elapsed);
      const { tag } = p;
      if (area === 'coil' || area === 'discrete') {
        this.bits[area][tag.address] = asBool(value) ? 1 : 0;
        continue;
      }
      const image = this.registers[area as 'holding' | 'input'];
      const typed = tag.type === 'bool' ? asBool(value)
        : tag.type === 'string' || tag.type.startsWith('float') ? value
          : wrapInteger(tag.type, Number(value));
      const words = encodeRegisters(tag, typed, image[tag.address]);
      image.set(words, tag.address);
    }
  }

  readRegisters(area: 'holding' | 'input', start: number, count: number): number[] {
    this.refresh(area, start, start + count - 1);
    return Array.from(this.registers[area].subarray(start, start + count));
  }

  readBit(area: 'coil' | 'discrete', address: number): boolean {
    this.refresh(area, address, address);
    return this.bits[area][address] === 1;
  }

  writeRegisters(start: number, values: readonly number[]): void {
    for (const p of this.overlapping('holding', start, start + values.length - 1)) this.held.add(p);
    this.registers.holding.set(values, start);
  }

  writeCoil(address: number, on: boolean): void {
    for (const p of this.overlapping('coil', address, address)) this.held.add(p);
    this.bits.coil[address] = on ? 1 : 0;
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function listen(vector: IServiceVector, host: string, port: number, unitID: number | undefined): Promise<ServerTCP> {
  return new Promise((resolve, reject) => {
    // ServerTCP treats port 0 as "use 502", so a free port is picked beforehand.
    const server = new ServerTCP(vector, { host, port, unitID });
    server.once('initialized', () => resolve(server));
    server.once('serverError', (err) => {
      server.close(() => undefined);
      reject(err);
    });
  });
}

export async function startModbusSim(options: ModbusSimOptions = {}): Promise<ModbusSim> {
  const host = options.host ?? '127.0.0.1';
  const image = new PlcImage(loadSimMap(options.map ?? defaultSimMap));
  let faults: SimFaults = {};
  let server: ServerTCP | undefined;

  const counts = new Map<number, number>();
  const onServed = options.onServed;
  // ServerTCP calls the vector once per register/coil; one request's calls all happen in one
  // timer callback, so "first call before the next microtask checkpoint" is one request.
  let burst: Burst | undefined;
  /** Counts the request a call belongs to, and returns it; it is reported once its calls are done. */
  const count = (fc: number): Burst => {
    if (burst) {
      // FC15 (write coils) arrives as a run of setCoil calls, the same as FC05 would.
      if (++burst.calls === 2 && burst.fc === 5) {
        counts.set(5, counts.get(5)! - 1);
        counts.set(15, (counts.get(15) ?? 0) + 1);
        burst.fc = 15;
      }
      return burst;
    }
    const request: Burst = { fc, calls: 1, failed: false };
    burst = request;
    counts.set(fc, (counts.get(fc) ?? 0) + 1);
    queueMicrotask(() => {
      burst = undefined;
      const { served } = request;
      if (served && !request.failed) onServed!({ ...served, fc: request.fc, count: served.values.length });
    });
    return request;
  };
  /** Keeps the values a call answered, when someone listens. */
  const serve = (request: Burst, unit: number, address: number, values: readonly (number | boolean)[]): void => {
    if (!onServed) return;
    if (request.served) request.served.values.push(...values);
    else request.served = { time: Date.now(), unit, address, values: [...values] };
  };
  const refuse = (request: Burst, code: number, message: string): never => {
    request.failed = true;
    throw new ModbusError(code, message);
  };

  /** Undefined when the request may be answered normally; else what to answer instead. */
  const misbehave = (request: Burst): Promise<never> | undefined => {
    if (faults.mode !== 'silent' && faults.mode !== 'garbage') return undefined;
    request.failed = true;
    // Once per request (a coil read calls in once per coil), to every connected client.
    if (faults.mode === 'garbage' && request.calls === 1) for (const sock of server?.socks.keys() ?? []) sock.write(GARBAGE);
    return never();
  };
  const checkAddresses = (request: Burst, area: ModbusArea, start: number, n: number): void => {
    if (start + n > 65536) refuse(request, 2, 'past the end of the address space');
    const illegal = faults.illegal?.[area];
    if (illegal?.some((a) => a >= start && a < start + n)) refuse(request, 2, 'illegal data address');
  };
  const readRegisters = (fc: number, area: 'holding' | 'input', start: number, n: number, unit: number): Answer<number>[] => {
    const request = count(fc);
    const instead = misbehave(request);
    if (instead) return Array.from({ length: n }, () => instead);
    if (faults.maxRegistersPerRead !== undefined && n > faults.maxRegistersPerRead) {
      refuse(request, faults.tooLongException ?? 3, 'read too long');
    }
    checkAddresses(request, area, start, n);
    const values = image.readRegisters(area, start, n);
    serve(request, unit, start, values);
    return values;
  };
  const readBit = (fc: number, area: 'coil' | 'discrete', address: number, unit: number): Answer<boolean> => {
    const request = count(fc);
    const instead = misbehave(request);
    if (instead) return instead;
    checkAddresses(request, area, address, 1);
    const value = image.readBit(area, address);
    serve(request, unit, address, [value]);
    return value;
  };
  const write = (
    fc: number, area: 'holding' | 'coil', start: number, values: readonly (number | boolean)[], unit: number, apply: () => void,
  ): Answer<void> => {
    const request = count(fc);
    const instead = misbehave(request);
    if (instead) return instead;
    checkAddresses(request, area, start, values.length);
    apply();
    serve(request, unit, start, values);
  };

  // ServerTCP picks each function's calling convention from its arity (a callback makes it one
  // longer than these): these take no callback and may return a promise (or an array of them),
  // which ServerTCP awaits.
  const vector: SimVector = {
    getHoldingRegister: (addr, unit) => readRegisters(3, 'holding', addr, 1, unit)[0],
    getMultipleHoldingRegisters: (addr, length, unit) => readRegisters(3, 'holding', addr, length, unit),
    getInputRegister: (addr, unit) => readRegisters(4, 'input', addr, 1, unit)[0],
    getMultipleInputRegisters: (addr, length, unit) => readRegisters(4, 'input', addr, length, unit),
    getCoil: (addr, unit) => readBit(1, 'coil', addr, unit),
    getDiscreteInput: (addr, unit) => readBit(2, 'discrete', addr, unit),
    setRegister: (addr, value, unit) => write(6, 'holding', addr, [value], unit, () => image.writeRegisters(addr, [value])),
    setRegisterArray: (addr, values, unit) => write(16, 'holding', addr, values, unit, () => image.writeRegisters(addr, values)),
    setCoil: (addr, value, unit) => write(5, 'coil', addr, [value], unit, () => image.writeCoil(addr, value)),
  };

  let port = 0;
  for (let attempt = 0; server === undefined; attempt++) {
    const candidate = options.port || await freePort(host);
    try {
      server = await listen(vector as IServiceVector, host, candidate, options.unitId);
      port = candidate;
    } catch (err) {
      // Someone may take the free port between probe and listen: try another.
      if (options.port || attempt >= 4 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  const running = server;

  return {
    port,
    requests: (fc) => (fc === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : counts.get(fc) ?? 0),
    setFault: (f) => { faults = f; },
    close: () => new Promise<void>((resolve) => running.close(() => resolve())),
  };
}

