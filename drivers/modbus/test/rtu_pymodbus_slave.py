"""Independent Modbus RTU slaves for the cross-check in rtu-pymodbus.test.ts.

Run with Debian's /usr/bin/python3 (pymodbus 3.0.0rc1, pyserial-asyncio). Usage:
    rtu_pymodbus_slave.py PATH UNIT[,UNIT...]
Serves each unit on the serial PATH (a pty end) with values laid out by pymodbus' own
BinaryPayloadBuilder in all four byte orders, different per unit, and prints one JSON line
describing what it serves: {"tags": [{"unit", "name", "area", "address", "type", "byte_order",
"length"?, "value"}]}, integers as decimal strings so 64-bit values stay exact. Exits on its
own after a minute, so a crashed test run leaves nothing behind.
"""
import asyncio
import json
import struct
import sys

from pymodbus.constants import Endian
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.payload import BinaryPayloadBuilder
from pymodbus.server.async_io import ModbusSerialServer

# byte order name -> (byte order within a register, word order)
ORDERS = {
    "ABCD": (Endian.Big, Endian.Big),
    "BADC": (Endian.Little, Endian.Big),
    "CDAB": (Endian.Big, Endian.Little),
    "DCBA": (Endian.Little, Endian.Little),
}

# (type, registers, builder method, value for unit u)
VALUES = [
    ("int16", 1, "add_16bit_int", lambda u: -1234 * u),
    ("uint16", 1, "add_16bit_uint", lambda u: 54321 + u),
    ("int32", 2, "add_32bit_int", lambda u: -123456789 * u),
    ("uint32", 2, "add_32bit_uint", lambda u: 3000000000 + u),
    ("float32", 2, "add_32bit_float", lambda u: 123.456 * u),
    ("int64", 4, "add_64bit_int", lambda u: -1234567890123456789 + u),
    ("uint64", 4, "add_64bit_uint", lambda u: 18446744073709551000 + u),
    ("float64", 4, "add_64bit_float", lambda u: -98765.4321 * u),
]
STRING_REGISTERS = 5


def as_float32(value):
    return struct.unpack(">f", struct.pack(">f", value))[0]


def shortest_float32(value):
    """The float32 the slave holds, as the fewest significant digits that still read back as it."""
    served = as_float32(value)
    for digits in range(1, 10):
        text = f"{served:.{digits - 1}e}"
        if as_float32(float(text)) == served:
            return float(text)
    return served


def as_json(kind, value):
    if kind == "float32":
        return shortest_float32(value)
    if kind == "float64":
        return value
    return str(value)


def unit_store(unit, tags):
    holding = [0] * 200
    for i, (order, (byteorder, wordorder)) in enumerate(ORDERS.items()):
        builder = BinaryPayloadBuilder(byteorder=byteorder, wordorder=wordorder)
        address = 40 * i
        for kind, width, method, value in VALUES:
            getattr(builder, method)(value(unit))
            tags.append({"unit": unit, "name": f"u{unit}_{kind}_{order}", "area": "holding", "address": address,
                         "type": kind, "byte_order": order, "value": as_json(kind, value(unit))})
            address += width
        text = f"UNIT{unit}RTU"
        builder.add_string(text.ljust(STRING_REGISTERS * 2, "\0"))
        # pymodbus packs strings high byte first whatever the byte order: compare where we agree.
        if order in ("ABCD", "CDAB"):
            tags.append({"unit": unit, "name": f"u{unit}_string_{order}", "area": "holding", "address": address,
                         "type": "string", "length": STRING_REGISTERS, "byte_order": order, "value": text})
        regs = builder.to_registers()
        holding[40 * i: 40 * i + len(regs)] = regs
    coils = [(unit + a) % 3 == 0 for a in range(16)]
    discretes = [(unit * a) % 2 == 1 for a in range(16)]
    for a in range(0, 16, 5):
        tags.append({"unit": unit, "name": f"u{unit}_coil{a}", "area": "coil", "address": a, "type": "bool", "value": coils[a]})
        tags.append({"unit": unit, "name": f"u{unit}_di{a}", "area": "discrete", "address": a, "type": "bool",
                     "value": discretes[a]})
    inputs = BinaryPayloadBuilder(byteorder=Endian.Big, wordorder=Endian.Big)
    inputs.add_32bit_float(-7.25 * unit)
    tags.append({"unit": unit, "name": f"u{unit}_input_float32", "area": "input", "address": 3, "type": "float32",
                 "byte_order": "ABCD", "value": -7.25 * unit})
    return ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, holding),
        ir=ModbusSequentialDataBlock(0, [0, 0, 0] + inputs.to_registers() + [0] * 10),
        co=ModbusSequentialDataBlock(0, coils),
        di=ModbusSequentialDataBlock(0, discretes),
        zero_mode=True,
    )


async def main(path, units):
    tags = []
    slaves = {unit: unit_store(unit, tags) for unit in units}
    server = ModbusSerialServer(ModbusServerContext(slaves=slaves, single=False), framer=ModbusRtuFramer, port=path,
                                baudrate=9600, ignore_missing_slaves=True)
    await server.start()
    print(json.dumps({"tags": tags}), flush=True)
    await asyncio.sleep(60)
    await server.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], [int(u) for u in sys.argv[2].split(",")]))
    sys.exit(0)
