# kitbot self-test: one result per kit part, each pass, warn or fail with a short reason.
# On a board the parts are read through machine; on the unix port (no hardware) the readings
# come from kit_sim.json in the working directory, so a test can choose a failing part.
import json
import sys

try:
    import machine
except ImportError:
    machine = None

BOARD_NAMES = {"rp2": "pico", "microbit": "microbit", "esp32": "esp32", "linux": "unix"}
# Thresholds shared with the AVR firmware: 4 AA cells
BATTERY_FAIL_MV = 4000
BATTERY_WARN_MV = 4400
LINE_STUCK_LOW = 20
LINE_STUCK_HIGH = 1003
DISTANCE_MAX_CM = 400


def board_id():
    if machine is not None and hasattr(machine, "unique_id"):
        return "".join(f"{b:02x}" for b in machine.unique_id())
    return ""


def hello(version):
    return {
        "fw": "kitbot",
        "version": version,
        "board": BOARD_NAMES.get(sys.platform, sys.platform),
        "id": board_id(),
    }


def read_kit():
    """Return the raw readings: motors_ok, distance_cm (None = no echo), line, battery_mv."""
    if machine is not None and hasattr(machine, "ADC"):
        return read_hardware()
    try:
        with open("kit_sim.json") as f:
            return json.load(f)
    except OSError:
        return None


def read_hardware():
    # Pico kit wiring: line sensors on ADC0/ADC1, battery divider (1/3) on ADC2,
    # HC-SR04 trigger GP2 / echo GP3, motor driver fault line (active low) on GP6.
    line = [machine.ADC(n).read_u16() >> 6 for n in (0, 1)]
    battery_mv = machine.ADC(2).read_u16() * 3300 * 3 // 65535
    trig, echo = machine.Pin(2, machine.Pin.OUT), machine.Pin(3, machine.Pin.IN)
    trig.value(0)
    trig.value(1)
    trig.value(0)
    pulse = machine.time_pulse_us(echo, 1, 30000)
    distance = None if pulse < 0 else pulse // 58
    motors_ok = machine.Pin(6, machine.Pin.IN, machine.Pin.PULL_UP).value() == 1
    return {"motors_ok": motors_ok, "distance_cm": distance, "line": line, "battery_mv": battery_mv}


def part(name, result, detail, **values):
    entry = {"part": name, "ok": result != "fail", "result": result, "detail": detail}
    entry.update(values)
    return entry


def selftest():
    kit = read_kit()
    if kit is None:
        return [
            part(name, "fail", "no kit hardware on this board")
            for name in ("motors", "distance", "line", "battery")
        ]
    results = []
    if kit.get("motors_ok"):
        results.append(part("motors", "pass", "driver ready"))
    else:
        results.append(part("motors", "fail", "motor driver reports a fault: check motor cables"))
    cm = kit.get("distance_cm")
    if cm is None:
        results.append(part("distance", "fail", "no echo: check the distance sensor cable"))
    elif cm > DISTANCE_MAX_CM:
        results.append(part("distance", "warn", "nothing in range", cm=cm))
    else:
        results.append(part("distance", "pass", "echo received", cm=cm))
    stuck = [v for v in kit.get("line", []) if v <= LINE_STUCK_LOW or v >= LINE_STUCK_HIGH]
    if stuck or not kit.get("line"):
        results.append(
            part("line", "fail", "a line sensor reads stuck: check its cable", raw=kit.get("line"))
        )
    else:
        results.append(part("line", "pass", "both sensors read", raw=kit.get("line")))
    mv = kit.get("battery_mv", 0)
    if mv < BATTERY_FAIL_MV:
        results.append(part("battery", "fail", "battery flat or unplugged", mv=mv))
    elif mv < BATTERY_WARN_MV:
        results.append(part("battery", "warn", "battery low: replace soon", mv=mv))
    else:
        results.append(part("battery", "pass", "battery good", mv=mv))
    return results
