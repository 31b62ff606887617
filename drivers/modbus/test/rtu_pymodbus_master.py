"""An independent Modbus RTU master for the cross-check in rtu-pymodbus.test.ts.

Run with Debian's /usr/bin/python3 (pymodbus 3.0.0rc1). Usage:
    rtu_pymodbus_master.py PATH UNIT[,UNIT...]
For each unit: reads holding 10..11, input 0, coils 0..2, discrete inputs 0..1, writes holding
20..22 = 7, 8, 9 (FC16) and reads them back, then asks unit 9, which is not there. Prints one
JSON line, {unit: {holding, input, coils, discrete, written, missing}}, and exits.
"""
import json
import sys

from pymodbus.client import ModbusSerialClient
from pymodbus.framer.rtu_framer import ModbusRtuFramer


def main(path, units):
    client = ModbusSerialClient(port=path, framer=ModbusRtuFramer, baudrate=9600, timeout=1, retries=0)
    if not client.connect():
        raise SystemExit(f"cannot open {path}")
    out = {}
    for unit in units:
        result = {
            "holding": client.read_holding_registers(10, 2, slave=unit).registers,
            "input": client.read_input_registers(0, 1, slave=unit).registers,
            "coils": client.read_coils(0, 3, slave=unit).bits[:3],
            "discrete": client.read_discrete_inputs(0, 2, slave=unit).bits[:2],
        }
        written = client.write_registers(20, [7, 8, 9], slave=unit)
        if written.isError():
            raise SystemExit(f"write to unit {unit} failed: {written}")
        result["written"] = client.read_holding_registers(20, 3, slave=unit).registers
        result["missing"] = "no reply" if client.read_holding_registers(0, 1, slave=9).isError() else "answered"
        out[unit] = result
    client.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], [int(u) for u in sys.argv[2].split(",")])
