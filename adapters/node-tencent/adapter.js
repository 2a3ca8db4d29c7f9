// Testee adapter for tencentcloud-sdk-nodejs (CVM 2017-03-12, ECM 2019-07-19): TC3 POST/GET,
// HmacSHA256/HmacSHA1 form POST and GET. The endpoint needs `protocol: "http://"` (with `://`).
"use strict";
const path = require("path");
const t = require(path.join(__dirname, "..", "common", "testee.js"));

// style/signing -> [httpProfile.reqMethod, profile.signMethod]
const METHODS = {
  "json-post/tc3-hmac-sha256": ["POST", "TC3-HMAC-SHA256"],
  "get/tc3-hmac-sha256": ["GET", "TC3-HMAC-SHA256"],
  "form-post/tc-hmac-sha256": ["POST", "HmacSHA256"],
  "form-post/tc-hmac-sha1": ["POST", "HmacSHA1"],
  "get/tc-hmac-sha256": ["GET", "HmacSHA256"],
  "get/tc-hmac-sha1": ["GET", "HmacSHA1"],
};

function identify() {
  let version;
  try {
    version = require("tencentcloud-sdk-nodejs/package.json").version;
  } catch (e) {
    throw new t.Unavailable(`tencentcloud-sdk-nodejs is not installed: ${e.message}`);
  }
  return {
    sdk: "tencentcloud-sdk-nodejs",
    version,
    language: "node",
    actions: [
      "tencent/cvm/2017-03-12/DeleteKeyPairs",
      "tencent/cvm/2017-03-12/DisassociateInstancesKeyPairs",
      "tencent/ecm/2019-07-19/DisassociateInstancesKeyPairs",
    ],
    methods: Object.keys(METHODS),
  };
}

async function handle(hello, kase) {
  const tencentcloud = require("tencentcloud-sdk-nodejs");
  const [reqMethod, signMethod] = METHODS[kase.method];
  const Client =
    kase.service === "cvm" ? tencentcloud.cvm.v20170312.Client : tencentcloud.ecm.v20190719.Client;
  const client = new Client({
    credential: { secretId: hello.credentials.access_key_id, secretKey: hello.credentials.secret },
    region: kase.region,
    profile: {
      signMethod,
      httpProfile: { endpoint: hello.endpoint.host, protocol: `${hello.endpoint.scheme}://`, reqMethod },
    },
  });
  try {
    // The SDK takes the API's own JSON names.
    return t.ok(await client[kase.action](kase.params));
  } catch (e) {
    if (e && e.constructor && e.constructor.name === "TencentCloudSDKHttpException") {
      return t.error({
        code: e.code === undefined ? null : e.code,
        message: e.message,
        requestId: e.requestId || null,
        httpStatus: e.httpCode || null,
      });
    }
    throw e;
  }
}

t.serve(identify, handle);
