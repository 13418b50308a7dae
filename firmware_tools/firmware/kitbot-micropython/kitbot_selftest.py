# kitbot self-test: one result per kit part, the same parts, measurements and limits as the
# AVR firmware (kitbot-avr/PROTOCOL.md). On a board the parts are measured through machine;
# on the unix port (no hardware) the readings come from kit_sim.json in the working directory,
# so a test can choose a failing part. No f-strings: older ports (micro:bit) lack them.
import json
import sys

try:
    import machine
except ImportError:
    machine = None

BOARD_NAMES = {"rp2": "pico", "microbit": "microbit", "esp32": "esp32", "linux": "unix"}
MOTOR_MIN_MA, MOTOR_MAX_MA = 30, 1500
DISTANCE_MIN_MV, DISTANCE_CLOSE_MV = 200, 3300
LINE_STUCK_LOW, LINE_STUCK_HIGH = 20, 1003
BATTERY_NONE_MV, BATTERY_FLAT_MV, BATTERY_LOW_MV, BATTERY_MAX_MV = 1000, 6500, 7000, 8600


def board_id():
    if machine is not None and hasattr(machine, "unique_id"):
        return "".join("%02x" % b for b in machine.unique_id())  # noqa: UP031
    return ""


def hello(version):
    return {
        "fw": "kitbot",
        "version": version,
        "board": BOARD_NAMES.get(sys.platform, sys.platform),
        "id": board_id(),
    }


def read_kit():
    """Raw readings: motors_ma [l, r], distance_mv, line [3 x 0-1023], battery_mv; or None."""
    if machine is not None and hasattr(machine, "ADC"):
        return read_pico()
    try:
        with open("kit_sim.json") as f:
            return json.load(f)
    except OSError:
        return None


def read_pico():
    # Pico kit wiring: ADC0 motor current (1 ohm shunt), ADC1 distance sensor, ADC2 battery
    # through 1:3; motors on GP14/GP15; line sensors through a 3-way switch on GP10-GP12.
    def mv(channel):
        return machine.ADC(channel).read_u16() * 3300 // 65535

    import time

    currents = []
    for pin in (14, 15):
        motor = machine.Pin(pin, machine.Pin.OUT)
        motor.value(1)
        time.sleep_ms(50)
        currents.append(mv(0))  # 1 ohm: mV across the shunt is mA
        motor.value(0)
    line = []
    for pin in (10, 11, 12):
        select = machine.Pin(pin, machine.Pin.OUT)
        select.value(1)
        line.append(mv(1) * 1023 // 3300)
        select.value(0)
    return {"motors_ma": currents, "distance_mv": mv(1), "line": line, "battery_mv": mv(2) * 3}


def part(name, result, detail, **values):
    entry = {"part": name, "result": result, "detail": detail}
    entry.update(values)
    return entry


def check_motors(ma):
    left, right = ma
    detail = "left " + str(left) + " mA, right " + str(right) + " mA"
    if min(ma) < MOTOR_MIN_MA:
        return part("motors", "fail", detail + ": a motor is unplugged", ma=ma)
    if max(ma) > MOTOR_MAX_MA:
        return part("motors", "fail", detail + ": a motor is stalled or shorted", ma=ma)
    return part("motors", "pass", detail, ma=ma)


def check_distance(mv):
    if mv < DISTANCE_MIN_MV:
        return part("distance", "fail", "no signal: check the distance sensor cable", mv=mv)
    cm = int(27.86 * (mv / 1000) ** -1.15 + 0.5)
    if mv > DISTANCE_CLOSE_MV:
        return part("distance", "warn", "closer than 10 cm, or a wiring fault", mv=mv, cm=cm)
    return part("distance", "pass", "about " + str(cm) + " cm", cm=cm, mv=mv)


def check_line(raw):
    if len(raw) != 3 or any(v < LINE_STUCK_LOW or v > LINE_STUCK_HIGH for v in raw):
        return part("line", "fail", "a line sensor is stuck: check its cable", raw=raw)
    return part("line", "pass", "3 sensors respond", raw=raw)


def check_battery(mv):
    if mv < BATTERY_NONE_MV:
        return part("battery", "fail", "no battery connected", mv=mv)
    if mv < BATTERY_FLAT_MV:
        return part("battery", "fail", "battery flat: charge it", mv=mv)
    if mv < BATTERY_LOW_MV:
        return part("battery", "warn", "battery low: charge it soon", mv=mv)
    if mv > BATTERY_MAX_MV:
        return part("battery", "warn", "not a 2-cell pack", mv=mv)
    return part("battery", "pass", "ok", mv=mv)


def selftest():
    kit = read_kit()
    if kit is None:
        return [
            part(name, "fail", "no kit hardware found on this board")
            for name in ("motors", "distance", "line", "battery")
        ]
    return [
        check_motors(kit["motors_ma"]),
        check_distance(kit["distance_mv"]),
        check_line(kit["line"]),
        check_battery(kit["battery_mv"]),
    ]
