"""Testee adapter for aliyun-python-sdk-core (RPC HMAC-SHA1): ECS through the generated
DetachKeyPairRequest of aliyun-python-sdk-ecs, ENS through core's CommonRequest (no ENS request
class has DetachKeyPair)."""
import json
import os
import sys
from importlib import metadata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import testee  # noqa: E402

ACTIONS = ["alibaba/ecs/2014-05-26/DetachKeyPair", "alibaba/ens/2017-11-10/DetachKeyPair"]


def identify(hello):
    try:
        import aliyunsdkcore  # noqa: F401
        version = metadata.version("aliyun-python-sdk-core")
    except (ImportError, metadata.PackageNotFoundError) as e:
        raise testee.Unavailable("aliyun-python-sdk-core is not installed: %s" % e)
    return {"sdk": "aliyun-python-sdk-core", "version": version, "language": "python",
            "actions": ACTIONS, "methods": ["rpc-query/rpc-hmac-sha1"]}


def text(value):
    # Array parameters of these APIs travel as JSON text the caller builds.
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def handle(hello, case):
    from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    host, _, port = hello["endpoint"]["host"].rpartition(":")
    params = case["params"]
    client = AcsClient(hello["credentials"]["access_key_id"], hello["credentials"]["secret"],
                       params.get("RegionId", case["region"]), port=int(port))
    if case["service"] == "ecs":
        from aliyunsdkecs.request.v20140526.DetachKeyPairRequest import DetachKeyPairRequest
        request = DetachKeyPairRequest()
        for name, value in params.items():
            setter = getattr(request, "set_" + name, None)
            if setter is not None:
                setter(text(value))
            else:
                request.add_query_param(name, text(value))
    else:
        request = CommonRequest(domain=host, version=case["version"], action_name=case["action"], product="Ens")
        request.set_method("POST")
        for name, value in params.items():
            request.add_query_param(name, text(value))
    request.set_endpoint(host)
    request.set_protocol_type(hello["endpoint"]["scheme"])
    try:
        body = client.do_action_with_exception(request)
    except ServerException as e:
        return testee.error(e.get_error_code(), e.get_error_msg(), e.get_request_id(), e.get_http_status())
    except ClientException as e:
        return testee.error(e.get_error_code(), e.get_error_msg(), None, None)
    return testee.ok(json.loads(body))


testee.serve(identify, handle)
