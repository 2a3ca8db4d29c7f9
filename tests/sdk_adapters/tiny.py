"""A tiny SDK of our own (stdlib only: TC3 POST/GET and Alibaba RPC signing) driven as a testee,
with deliberate faults, so `cloudconform sdk` can be tested without any network or real SDK.

    tiny.py                         a correct client
    tiny.py keyids-1                Tencent Name.N flattened from 1 (KeyIds.1 instead of KeyIds.0)
    tiny.py swallow-code            service errors returned as success
    tiny.py drop-request-id         service errors surfaced without the request id
    tiny.py repeated-instanceids    Alibaba InstanceIds as InstanceIds.1, .2 … instead of one JSON string
    tiny.py crash MARK | hang MARK | garbage MARK
                                    misbehave on cases whose id contains MARK, be correct otherwise
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "adapters", "common"))
import testee  # noqa: E402

FAULT = sys.argv[1] if len(sys.argv) > 1 else ""
MARK = sys.argv[2] if len(sys.argv) > 2 else ""

ACTIONS = [
    "tencent/cvm/2017-03-12/DeleteKeyPairs",
    "tencent/cvm/2017-03-12/DisassociateInstancesKeyPairs",
    "alibaba/ecs/2014-05-26/DetachKeyPair",
    "alibaba/ens/2017-11-10/DetachKeyPair",
]


def identify(hello):
    methods = ["json-post/tc3-hmac-sha256", "get/tc3-hmac-sha256", "rpc-query/rpc-hmac-sha1"]
    if FAULT == "keyids-1":
        methods = ["get/tc3-hmac-sha256"]
    return {"sdk": "tiny-" + (FAULT or "correct"), "version": "1.0", "language": "python",
            "actions": ACTIONS, "methods": methods}


def hmac_sha256(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def flatten(name, value, base, out):
    if isinstance(value, list):
        for i, item in enumerate(value):
            flatten("%s.%d" % (name, i + base), item, base, out)
    elif isinstance(value, dict):
        for k, v in value.items():
            flatten("%s.%s" % (name, k), v, base, out)
    elif isinstance(value, bool):
        out.append((name, "true" if value else "false"))
    else:
        out.append((name, "" if value is None else str(value)))


def send(url, method, query, headers, body):
    full = url + "/" + ("?" + query if query else "")
    req = urllib.request.Request(full, data=body if body else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def tencent(hello, case, style):
    cred = hello["credentials"]
    host = hello["endpoint"]["host"]
    ts = int(time.time())
    date = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d")
    if style == "json-post":
        method, ctype, query = "POST", "application/json", ""
        body = json.dumps(case["params"]).encode()
    else:
        pairs = []
        for name, value in case["params"].items():
            flatten(name, value, 1 if FAULT == "keyids-1" else 0, pairs)
        method, ctype, body = "GET", "application/x-www-form-urlencoded", b""
        query = urllib.parse.urlencode(pairs)
    service = case["service"]
    canonical = "\n".join([method, "/", query, "content-type:%s\nhost:%s\n" % (ctype, host),
                           "content-type;host", hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/tc3_request" % (date, service)
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(ts), scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = hmac_sha256(("TC3" + cred["secret"]).encode(), date)
    key = hmac_sha256(hmac_sha256(key, service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Authorization": "TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=content-type;host, Signature=%s"
        % (cred["access_key_id"], scope, signature),
        "Content-Type": ctype, "Host": host, "X-TC-Action": case["action"],
        "X-TC-Version": case["version"], "X-TC-Timestamp": str(ts), "X-TC-Region": case["region"],
    }
    status, raw = send(hello["endpoint"]["url"], method, query, headers, body)
    answer = json.loads(raw)["Response"]
    if "Error" in answer:
        return failure(answer["Error"]["Code"], answer["Error"].get("Message"), answer.get("RequestId"), status)
    return testee.ok(answer)


def pct(s):
    return urllib.parse.quote(s, safe="-_.~")


def alibaba(hello, case):
    cred = hello["credentials"]
    params = [("AccessKeyId", cred["access_key_id"]), ("Action", case["action"]), ("Format", "JSON"),
              ("SignatureMethod", "HMAC-SHA1"), ("SignatureNonce", uuid.uuid4().hex),
              ("SignatureVersion", "1.0"), ("Version", case["version"]),
              ("Timestamp", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))]
    for name, value in case["params"].items():
        encoding = case["encodings"].get(name)
        if isinstance(value, list) and encoding == "json-string" and FAULT != "repeated-instanceids":
            params.append((name, json.dumps(value)))
        else:
            flatten(name, value, 1, params)
    canonical = "&".join("%s=%s" % (pct(k), pct(v)) for k, v in sorted(params))
    to_sign = "POST&%2F&" + pct(canonical)
    digest = hmac.new((cred["secret"] + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    query = canonical + "&Signature=" + pct(base64.b64encode(digest).decode())
    status, raw = send(hello["endpoint"]["url"], "POST", query, {"Host": hello["endpoint"]["host"]}, b"")
    answer = json.loads(raw)
    if status >= 400:
        return failure(answer.get("Code"), answer.get("Message"), answer.get("RequestId"), status)
    return testee.ok(answer)


def failure(code, message, request_id, status):
    if FAULT == "swallow-code":
        return testee.ok({"RequestId": request_id})
    if FAULT == "drop-request-id":
        request_id = None
    return testee.error(code, message, request_id, status)


def handle(hello, case):
    if MARK and MARK in case["id"]:
        if FAULT == "crash":
            sys.stderr.write("tiny: crashing on purpose\n")
            sys.stderr.flush()
            os._exit(3)
        if FAULT == "hang":
            time.sleep(3600)
        if FAULT == "garbage":
            sys.__stdout__.write("this is not JSON \x01\n")
            sys.__stdout__.flush()
            return testee.ok({})
    style, _signing = case["method"].split("/")
    if case["provider"] == "tencent":
        return tencent(hello, case, style)
    return alibaba(hello, case)


testee.serve(identify, handle)
