"""The adapter side of cloudconform's testee protocol v1 (docs/testee-protocol.md), stdlib only.

An adapter calls `serve(identify, handle)`:
  identify(hello) -> dict with sdk, version, language, actions, methods
                     (or raises Unavailable(reason) when its SDK cannot run here)
  handle(case)    -> one of ok(data), error(code, message, request_id, http_status),
                     skipped(reason), errored(reason)
Anything `handle` raises is reported as `errored` with the exception, and the session goes on.
Only protocol lines go to stdout; everything else (pip output, tracebacks) must go to stderr.
"""
import json
import sys
import traceback

PROTOCOL = 1


class Unavailable(Exception):
    """The SDK cannot run here (not installed, no registry)."""


def ok(data):
    return {"outcome": "ok", "data": data}


def error(code=None, message=None, request_id=None, http_status=None):
    return {
        "outcome": "error",
        "error": {"code": code, "message": message, "request_id": request_id, "http_status": http_status},
    }


def skipped(reason):
    return {"outcome": "skipped", "reason": reason}


def errored(reason):
    return {"outcome": "errored", "reason": reason}


def _send(message, out):
    out.write(json.dumps(message) + "\n")
    out.flush()


def serve(identify, handle):
    # Keep stdout for the protocol: anything an SDK prints goes to stderr.
    out = sys.stdout
    sys.stdout = sys.stderr
    hello = None
    for raw in sys.stdin:
        if not raw.strip():
            continue
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "hello":
            hello = message
            try:
                ident = identify(hello)
            except Unavailable as e:
                _send({"type": "unavailable", "reason": str(e)}, out)
                continue
            _send(dict({"type": "identity", "protocol": PROTOCOL}, **ident), out)
        elif kind == "case":
            try:
                result = handle(hello, message)
            except Exception as e:  # the adapter's own failure, not the SDK's
                traceback.print_exc(file=sys.stderr)
                result = errored("%s: %s" % (type(e).__name__, e))
            _send(dict({"type": "result", "id": message["id"]}, **result), out)
        elif kind == "bye":
            return
