"""Testee adapter for the alibabacloud tea Python SDKs: alibabacloud-ecs20140526 and
alibabacloud-ens20171110 on alibabacloud-tea-openapi, signing with ACS3-HMAC-SHA256 (default),
ACS3-HMAC-SM3 and `v2` (RPC HMAC-SHA1)."""
import json
import os
import sys
from importlib import metadata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import testee  # noqa: E402

# style/signing -> Config.signature_algorithm
METHODS = {
    "rpc-query/acs3-hmac-sha256": None,
    "rpc-query/acs3-hmac-sm3": "ACS3-HMAC-SM3",
    "rpc-query/rpc-hmac-sha1": "v2",
}
ACTIONS = ["alibaba/ecs/2014-05-26/DetachKeyPair", "alibaba/ens/2017-11-10/DetachKeyPair"]


def identify(hello):
    try:
        import alibabacloud_ecs20140526  # noqa: F401
        import alibabacloud_ens20171110  # noqa: F401
        version = "ecs %s, ens %s, tea-openapi %s" % (
            metadata.version("alibabacloud-ecs20140526"), metadata.version("alibabacloud-ens20171110"),
            metadata.version("alibabacloud-tea-openapi"))
    except (ImportError, metadata.PackageNotFoundError) as e:
        raise testee.Unavailable("the alibabacloud tea SDKs are not installed: %s" % e)
    return {"sdk": "alibabacloud-tea-python", "version": version, "language": "python",
            "actions": ACTIONS, "methods": list(METHODS)}


def handle(hello, case):
    from alibabacloud_tea_openapi.models import Config

    config = Config(access_key_id=hello["credentials"]["access_key_id"],
                    access_key_secret=hello["credentials"]["secret"],
                    endpoint=hello["endpoint"]["host"], protocol=hello["endpoint"]["scheme"],
                    region_id=case["params"].get("RegionId", case["region"]))
    algorithm = METHODS[case["method"]]
    if algorithm:
        config.signature_algorithm = algorithm
    params = dict(case["params"])
    if case["service"] == "ecs":
        from alibabacloud_ecs20140526.client import Client
        from alibabacloud_ecs20140526 import models
        # The ECS model takes InstanceIds as a string the caller builds (json.dumps, as the
        # SDK's docs show).
        if isinstance(params.get("InstanceIds"), list):
            params["InstanceIds"] = json.dumps(params["InstanceIds"])
    else:
        from alibabacloud_ens20171110.client import Client
        from alibabacloud_ens20171110 import models
        if "InstanceIds" in params and not isinstance(params["InstanceIds"], list):
            return testee.skipped("the ENS model takes InstanceIds as a list and JSON-encodes it itself; "
                                  "it cannot send the text %r" % (params["InstanceIds"],))
    request = models.DetachKeyPairRequest().from_map(params)
    try:
        response = Client(config).detach_key_pair(request)
    except Exception as e:  # the SDK's exception family (ClientException, ServerException, ...)
        return testee.error(getattr(e, "code", None), getattr(e, "message", str(e)),
                            getattr(e, "request_id", None), getattr(e, "status_code", None))
    return testee.ok(response.body.to_map())


testee.serve(identify, handle)
