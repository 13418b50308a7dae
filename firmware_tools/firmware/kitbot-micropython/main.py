# kitbot firmware for MicroPython boards: answers the health check on the REPL's serial line.
# One JSON object per line in, one per line out (see kitbot-avr/PROTOCOL.md).
import json
import sys

import kitbot_selftest

VERSION = "1.2.0"


def answer(request):
    cmd = request.get("cmd")
    if cmd == "hello":
        return kitbot_selftest.hello(VERSION)
    if cmd == "selftest":
        return {"selftest": kitbot_selftest.selftest()}
    return {"error": "unknown cmd", "cmd": cmd}


def serve():
    while True:
        line = sys.stdin.readline()
        if not line:
            # stdin closed (unix port without a terminal): nothing left to answer
            return
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            request = json.loads(line)
        except ValueError:
            print(json.dumps({"error": "bad json"}))
            continue
        print(json.dumps(answer(request)))


serve()
