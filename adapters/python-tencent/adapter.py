"""Testee adapter for tencentcloud-sdk-python (CVM 2017-03-12, ECM 2019-07-19), every request
style and signing method the SDK offers: TC3 POST/GET, HmacSHA256/HmacSHA1 form POST and GET."""
import json
import os
import sys
from importlib import metadata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import testee  # noqa: E402

# style/signing (provider spec ids) -> (HttpProfile.reqMethod, ClientProfile.signMethod)
METHODS = {
    "json-post/tc3-hmac-sha256": ("POST", "TC3-HMAC-SHA256"),
    "get/tc3-hmac-sha256": ("GET", "TC3-HMAC-SHA256"),
    "form-post/tc-hmac-sha256": ("POST", "HmacSHA256"),
    "form-post/tc-hmac-sha1": ("POST", "HmacSHA1"),
    "get/tc-hmac-sha256": ("GET", "HmacSHA256"),
    "get/tc-hmac-sha1": ("GET", "HmacSHA1"),
}
ACTIONS = [
    "tencent/cvm/2017-03-12/DeleteKeyPairs",
    "tencent/cvm/2017-03-12/DisassociateInstancesKeyPairs",
    "tencent/ecm/2019-07-19/DisassociateInstancesKeyPairs",
]


def identify(hello):
    try:
        import tencentcloud.common  # noqa: F401
        version = metadata.version("tencentcloud-sdk-python-common")
    except (ImportError, metadata.PackageNotFoundError) as e:
        raise testee.Unavailable("tencentcloud-sdk-python is not installed: %s" % e)
    return {"sdk": "tencentcloud-sdk-python", "version": version, "language": "python",
            "actions": ACTIONS, "methods": list(METHODS)}


def client_for(hello, case):
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    req_method, sign_method = METHODS[case["method"]]
    http = HttpProfile(protocol=hello["endpoint"]["scheme"], endpoint=hello["endpoint"]["host"],
                       reqMethod=req_method)
    profile = ClientProfile(httpProfile=http, signMethod=sign_method)
    cred = credential.Credential(hello["credentials"]["access_key_id"], hello["credentials"]["secret"])
    if case["service"] == "cvm":
        from tencentcloud.cvm.v20170312 import cvm_client, models
        return cvm_client.CvmClient(cred, case["region"], profile), models
    from tencentcloud.ecm.v20190719 import ecm_client, models
    return ecm_client.EcmClient(cred, case["region"], profile), models


def handle(hello, case):
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    client, models = client_for(hello, case)
    request = getattr(models, case["action"] + "Request")()
    # The SDK's own mapping from the API's JSON names onto its model.
    request.from_json_string(json.dumps(case["params"]))
    try:
        response = getattr(client, case["action"])(request)
    except TencentCloudSDKException as e:
        message = e.get_message()
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        # The SDK exposes no HTTP status on its exception.
        return testee.error(e.get_code(), message, e.get_request_id(), None)
    return testee.ok(json.loads(response.to_json_string()))


testee.serve(identify, handle)
