/**
 * The only place the core names a protocol: the list of driver registrations.
 * Adding a driver = one folder under drivers/ plus one line here.
 */
import type { DriverModule } from '../driver.js';
import { modbusRtu, modbusTcp } from '../../drivers/modbus/index.js';
import { opcua } from '../../drivers/opcua/index.js';
import { serial } from '../../drivers/serial/index.js';

const drivers: readonly DriverModule[] = [modbusTcp, modbusRtu, opcua, serial];

const byName = new Map(drivers.map((d) => [d.name, d]));

export function driverNames(): string[] {
  return [...byName.keys()];
}

export function getDriver(name: string): DriverModule | undefined {
  return byName.get(name);
}
