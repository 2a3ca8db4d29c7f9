// Testee adapter for @alicloud/ecs20140526 (ECS) and @alicloud/openapi-core's generic callApi
// (ENS: no @alicloud/ens20171110 on npm), signing with ACS3-HMAC-SHA256 (default),
// ACS3-HMAC-SM3 and `v2` (RPC HMAC-SHA1).
"use strict";
const path = require("path");
const t = require(path.join(__dirname, "..", "common", "testee.js"));

// style/signing -> Config.signatureAlgorithm
const METHODS = {
  "rpc-query/acs3-hmac-sha256": null,
  "rpc-query/acs3-hmac-sm3": "ACS3-HMAC-SM3",
  "rpc-query/rpc-hmac-sha1": "v2",
};

function identify() {
  let ecsVersion, coreVersion;
  try {
    ecsVersion = require("@alicloud/ecs20140526/package.json").version;
    coreVersion = require("@alicloud/openapi-core/package.json").version;
  } catch (e) {
    throw new t.Unavailable(`@alicloud/ecs20140526 is not installed: ${e.message}`);
  }
  return {
    sdk: "@alicloud/ecs20140526",
    version: `${ecsVersion} (openapi-core ${coreVersion})`,
    language: "node",
    actions: ["alibaba/ecs/2014-05-26/DetachKeyPair", "alibaba/ens/2017-11-10/DetachKeyPair"],
    methods: Object.keys(METHODS),
  };
}

function config(hello, kase) {
  const { $OpenApiUtil } = require("@alicloud/openapi-core");
  const cfg = new $OpenApiUtil.Config({
    accessKeyId: hello.credentials.access_key_id,
    accessKeySecret: hello.credentials.secret,
    endpoint: hello.endpoint.host,
    protocol: hello.endpoint.scheme,
    regionId: kase.params.RegionId || kase.region,
  });
  const algorithm = METHODS[kase.method];
  if (algorithm) cfg.signatureAlgorithm = algorithm;
  return cfg;
}

// The JSON-array parameters travel as text the caller builds.
const text = (v) => (Array.isArray(v) || (v && typeof v === "object") ? JSON.stringify(v) : v);

async function call(hello, kase) {
  const $dara = require("@darabonba/typescript");
  if (kase.service === "ecs") {
    const Ecs = require("@alicloud/ecs20140526");
    const names = Ecs.DetachKeyPairRequest.names();
    const fields = {};
    for (const [name, value] of Object.entries(kase.params)) {
      const field = Object.keys(names).find((k) => names[k] === name);
      if (!field) return t.skipped(`the ECS model has no field for ${name}`);
      fields[field] = text(value);
    }
    const client = new Ecs.default(config(hello, kase));
    const resp = await client.detachKeyPair(new Ecs.DetachKeyPairRequest(fields));
    return t.ok(resp.body.toMap());
  }
  const OpenApi = require("@alicloud/openapi-core");
  const { $OpenApiUtil, OpenApiUtil } = OpenApi;
  const query = {};
  for (const [name, value] of Object.entries(kase.params)) query[name] = text(value);
  const params = new $OpenApiUtil.Params({
    action: kase.action, version: kase.version, protocol: "HTTPS", pathname: "/", method: "POST",
    authType: "AK", style: "RPC", reqBodyType: "formData", bodyType: "json",
  });
  const client = new OpenApi.default(config(hello, kase));
  const resp = await client.callApi(params, new $OpenApiUtil.OpenApiRequest({ query: OpenApiUtil.query(query) }),
    new $dara.RuntimeOptions({}));
  return t.ok(resp.body);
}

async function handle(hello, kase) {
  try {
    return await call(hello, kase);
  } catch (e) {
    if (e && e.code !== undefined) {
      return t.error({
        code: e.code,
        message: e.message,
        requestId: e.requestId || (e.data && e.data.RequestId) || null,
        httpStatus: e.statusCode || null,
      });
    }
    throw e;
  }
}

t.serve(identify, handle);
