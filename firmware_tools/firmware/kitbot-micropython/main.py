# kitbot firmware for MicroPython boards: answers the health check on the REPL's serial line.
# One JSON object per line in, one per line out: the protocol of kitbot-avr/PROTOCOL.md.
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
    return {"error": "unknown command"}


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
        try:
            reply = answer(request)
        except Exception as error:  # a failing sensor read must not stop the firmware
            reply = {"error": repr(error)}
        print(json.dumps(reply))


serve()
