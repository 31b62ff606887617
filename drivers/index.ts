/**
 * Every protocol floorgate speaks: one line each. Adding a protocol is its folder under
 * drivers/ plus one line here. Only the composition root (src/cli/, tests) imports this.
 */
import { DriverRegistry } from '../src/driver/registry.js';
import { modbusRtu, modbusTcp } from './modbus/index.js';
import { opcua } from './opcua/index.js';
import { serial } from './serial/index.js';

export const drivers = new DriverRegistry([modbusTcp, modbusRtu, opcua, serial]);
