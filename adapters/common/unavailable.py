"""Answers the testee-protocol hello with `unavailable` (reason from argv) and waits for bye."""
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import testee  # noqa: E402


def identify(hello):
    raise testee.Unavailable(sys.argv[1] if len(sys.argv) > 1 else "unavailable")


testee.serve(identify, lambda hello, case: testee.errored("unavailable"))
