/** Shared by the RTU tests: devices on a pty pair, the simulator on its other end, cleanup. */
import { pino } from 'pino';
import type { ModbusRtuDevice, ModbusTag } from '../schema.js';
import type { Reading } from '../../../src/driver/contract.js';
import { ModbusDriver } from '../driver.js';
import { modbusRtu } from '../index.js';
import { RtuUnit, type RtuUnitOptions } from '../rtu-link.js';
import { startModbusRtuSim, type ModbusRtuSim, type ModbusRtuSimOptions } from '../rtu-sim.js';
import { Metrics } from '../../../src/metrics.js';
import { DeviceRunner } from '../../../src/scheduler/device-runner.js';
import { PtyLab, testContext } from '../../serial/test/helpers.js';

export { PtyLab, testContext, until, warnings, type LogRecord } from '../../serial/test/helpers.js';

/** A ModbusRtuDevice with the schema's defaults (9600 8N1, unit 1). */
export function rtuDevice(port: string, tags: ModbusTag[], over: Partial<ModbusRtuDevice> = {}): ModbusRtuDevice {
  return {
    name: `unit${over.unit_id ?? 1}`, driver: 'modbus_rtu', port, baud_rate: 9600, parity: 'none', data_bits: 8, stop_bits: 1,
    unit_id: 1, poll_interval: 1000, timeout: 300, byte_order: 'ABCD', max_registers_per_read: 125, max_bits_per_read: 2000,
    max_gap: 16, tags, ...over,
  };
}

/** A pty pair whose peer end carries the RTU simulator; everything is stopped by cleanup(). */
export class RtuLab extends PtyLab {
  /** Plugs in a new pty pair with a simulator on it; unplug() kills the pair (both paths vanish). */
  plugIn(options: Omit<ModbusRtuSimOptions, 'path'> = {}): Promise<{ sim: ModbusRtuSim; unplug: () => Promise<void> }> {
    return this.plugInWith((peer) => startModbusRtuSim({ path: peer, ...options }));
  }

  /** A connected driver for `device`, with its unit (failure counts) and a context that keeps the logs. */
  async driver(device: ModbusRtuDevice, options?: RtuUnitOptions) {
    const ctx = testContext();
    const unit = new RtuUnit(device, ctx.log, options);
    const driver = new ModbusDriver(device, ctx, unit.open);
    this.defer(() => driver.close());
    await driver.connect(new AbortController().signal);
    return { driver, unit, ctx };
  }

  /**
   * Runs a device under the real scheduler; readings that pass its report filter land in
   * `published`. Devices on one line may share `metrics`.
   */
  runner(device: ModbusRtuDevice, metrics = new Metrics(false)): { runner: DeviceRunner; published: Reading[] } {
    const published: Reading[] = [];
    const runner = new DeviceRunner({
      device, module: modbusRtu, log: pino({ level: 'silent' }), metrics, dataDir: this.dir,
      emit: (_device, readings) => published.push(...readings), reconnectMinMs: 100, reconnectMaxMs: 400,
    });
    runner.start();
    this.defer(() => runner.stop());
    return { runner, published };
  }
}
