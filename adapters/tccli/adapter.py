"""Testee adapter driving tccli as a command (an adapter can be a CLI): one `tccli` process per
case, with `--cli-input-json`, `--endpoint http://HOST:PORT` (tccli has no protocol option: the
scheme goes into the endpoint, and so into the Host header it signs), credentials from the
environment and a private HOME so no real ~/.tccli is read. TC3 POST is tccli's only method."""
import json
import os
import re
import subprocess
import sys
import tempfile
from importlib import metadata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import testee  # noqa: E402

TCCLI = os.path.join(os.path.dirname(sys.executable), "tccli")
ERROR = re.compile(r"\[TencentCloudSDKException\] code:(?P<code>\S*) message:(?P<message>.*?)\s*requestId:(?P<rid>\S*)", re.S)
HOME = tempfile.mkdtemp(prefix="cloudconform-tccli-")


def identify(hello):
    try:
        version = metadata.version("tccli")
    except metadata.PackageNotFoundError as e:
        raise testee.Unavailable("tccli is not installed: %s" % e)
    if not os.path.exists(TCCLI):
        raise testee.Unavailable("no tccli executable at %s" % TCCLI)
    return {"sdk": "tccli", "version": version, "language": "cli (python)",
            "actions": ["tencent/cvm/2017-03-12/DeleteKeyPairs",
                        "tencent/cvm/2017-03-12/DisassociateInstancesKeyPairs",
                        "tencent/ecm/2019-07-19/DisassociateInstancesKeyPairs"],
            "methods": ["json-post/tc3-hmac-sha256"]}


def handle(hello, case):
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=HOME, delete=False) as f:
        json.dump(case["params"], f)
        input_file = f.name
    env = dict(os.environ, HOME=HOME,
               TENCENTCLOUD_SECRET_ID=hello["credentials"]["access_key_id"],
               TENCENTCLOUD_SECRET_KEY=hello["credentials"]["secret"])
    argv = [TCCLI, case["service"], case["action"], "--cli-input-json", "file://" + input_file,
            "--endpoint", hello["endpoint"]["url"], "--region", case["region"], "--version", case["version"]]
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=25)
    finally:
        os.unlink(input_file)
    if done.returncode == 0:
        return testee.ok(json.loads(done.stdout))
    found = ERROR.search(done.stderr)
    if found:
        # tccli prints the SDK's exception on stderr and exits 255; no HTTP status is shown.
        return testee.error(found.group("code") or None, found.group("message"), found.group("rid") or None, None)
    return testee.errored("tccli exited %d: %s" % (done.returncode, done.stderr.strip()[-300:]))


testee.serve(identify, handle)
