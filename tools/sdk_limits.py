"""Official Python SDKs at the documented batch limits against `cloudconform emulate` and its
default world: CVM DisassociateInstancesKeyPairs/AssociateInstancesKeyPairs with 100 instances,
DeleteKeyPairs with 100 keys; ECS DetachKeyPair/AttachKeyPair with 50 instances; ENS
DetachKeyPair/AttachKeyPair with 30. Each limit + 1 must be refused; each success must show in
DescribeInstances / DescribeKeyPairs.

    python3 -m venv .sdk-venv && .sdk-venv/bin/pip install tencentcloud-sdk-python-cvm \
        alibabacloud-ecs20140526 alibabacloud-ens20171110
    cloudconform emulate --addr 127.0.0.1:18795 &        # the default world, rate limits on
    .sdk-venv/bin/python tools/sdk_limits.py 127.0.0.1:18795

It changes the world (POST /_cloudconform/reset restores it). Exit 0 when every check holds."""
import json
import sys

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.cvm.v20170312 import cvm_client, models as cvm

from alibabacloud_tea_openapi.models import Config
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ens20171110.client import Client as EnsClient
from alibabacloud_ens20171110 import models as ens

ENDPOINT = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:18793"
failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f"  [{detail}]" if detail else ""))
    if not ok:
        failures.append(what)


def refused(what, call):
    try:
        call()
    except Exception as e:  # the SDKs' own exception types
        code = getattr(e, "code", None) or getattr(e, "get_code", lambda: None)()
        check(what, True, f"refused: {code}")
        return
    check(what, False, "accepted")


# ---------------------------------------------------------------- CVM
cp = ClientProfile(httpProfile=HttpProfile(endpoint=ENDPOINT, protocol="http"))
tc = cvm_client.CvmClient(credential.Credential("AKIDEXAMPLE", "SECRETEXAMPLE"), "ap-guangzhou", cp)


def cvm_instances():
    out, offset = [], 0
    while True:
        r = cvm.DescribeInstancesRequest(); r.Offset = offset; r.Limit = 100
        page = tc.DescribeInstances(r)
        out += page.InstanceSet
        offset += 100
        if offset >= page.TotalCount:
            return out


bulk = [i.InstanceId for i in cvm_instances() if "skey-bulkins1" in (i.LoginSettings.KeyIds or [])]
check("CVM default world: >= 101 instances bound to skey-bulkins1", len(bulk) >= 101, len(bulk))
r = cvm.DisassociateInstancesKeyPairsRequest(); r.InstanceIds = bulk[:100]; r.KeyIds = ["skey-bulkins1"]
check("CVM DisassociateInstancesKeyPairs with 100 instances", bool(tc.DisassociateInstancesKeyPairs(r).RequestId))
r = cvm.DescribeInstancesRequest(); r.InstanceIds = bulk[:100]; r.Limit = 100
shown = tc.DescribeInstances(r).InstanceSet
check("CVM DescribeInstances: none of the 100 shows the key",
      len(shown) == 100 and all("skey-bulkins1" not in (i.LoginSettings.KeyIds or []) for i in shown), len(shown))
r = cvm.DisassociateInstancesKeyPairsRequest(); r.InstanceIds = bulk[:101]; r.KeyIds = ["skey-bulkins1"]
refused("CVM DisassociateInstancesKeyPairs with 101 instances", lambda: tc.DisassociateInstancesKeyPairs(r))
r = cvm.AssociateInstancesKeyPairsRequest(); r.InstanceIds = bulk[:100]; r.KeyIds = ["skey-free0001"]
tc.AssociateInstancesKeyPairs(r)
r = cvm.DescribeInstancesRequest(); r.InstanceIds = bulk[:100]; r.Limit = 100
shown = tc.DescribeInstances(r).InstanceSet
check("CVM AssociateInstancesKeyPairs with 100 instances, visible in DescribeInstances",
      all(i.LoginSettings.KeyIds == ["skey-free0001"] for i in shown), shown[0].LoginSettings.KeyIds)
keys = [f"skey-bulk{n:04d}" for n in range(1, 102)]
r = cvm.DeleteKeyPairsRequest(); r.KeyIds = keys
refused("CVM DeleteKeyPairs with 101 keys", lambda: tc.DeleteKeyPairs(r))
r = cvm.DeleteKeyPairsRequest(); r.KeyIds = keys[:100]
tc.DeleteKeyPairs(r)
r = cvm.DescribeKeyPairsRequest(); r.Limit = 100
left = [k.KeyId for k in tc.DescribeKeyPairs(r).KeyPairSet]
check("CVM DeleteKeyPairs with 100 keys, gone from DescribeKeyPairs",
      not any(k in left for k in keys[:100]) and "skey-bulk0101" in left, f"{len(left)} left")

# ---------------------------------------------------------------- ECS
def ali_config():
    return Config(access_key_id="AKIDEXAMPLE", access_key_secret="SECRETEXAMPLE",
                  endpoint=ENDPOINT, protocol="http", region_id="cn-hangzhou")


ec = EcsClient(ali_config())
page = ec.describe_instances(ecs.DescribeInstancesRequest(
    region_id="cn-hangzhou", key_pair_name="cc_ecs_bulk_instances", page_size=100)).body
ids = [i.instance_id for i in page.instances.instance]
check("ECS default world: >= 51 Linux instances bound to cc_ecs_bulk_instances", len(ids) >= 51, len(ids))
refused("ECS DetachKeyPair with 51 instances", lambda: ec.detach_key_pair(ecs.DetachKeyPairRequest(
    region_id="cn-hangzhou", key_pair_name="cc_ecs_bulk_instances", instance_ids=json.dumps(ids[:51]))))
b = ec.detach_key_pair(ecs.DetachKeyPairRequest(
    region_id="cn-hangzhou", key_pair_name="cc_ecs_bulk_instances", instance_ids=json.dumps(ids[:50]))).body
check("ECS DetachKeyPair with 50 instances", b.total_count == "50" and b.fail_count == "0",
      f"TotalCount {b.total_count!r} FailCount {b.fail_count!r}")
shown = ec.describe_instances(ecs.DescribeInstancesRequest(
    region_id="cn-hangzhou", instance_ids=json.dumps(ids[:50]), page_size=100)).body.instances.instance
check("ECS DescribeInstances: the 50 show no key pair",
      len(shown) == 50 and all(not i.key_pair_name for i in shown), len(shown))
b = ec.attach_key_pair(ecs.AttachKeyPairRequest(
    region_id="cn-hangzhou", key_pair_name="cc_ecs_free_1", instance_ids=json.dumps(ids[:51][-50:]))).body
shown = ec.describe_instances(ecs.DescribeInstancesRequest(
    region_id="cn-hangzhou", instance_ids=json.dumps(ids[:51][-50:]), page_size=100)).body.instances.instance
check("ECS AttachKeyPair with 50 instances replaces the key (incl. the one still holding the bulk key)",
      b.total_count == "50" and all(i.key_pair_name == "cc_ecs_free_1" for i in shown),
      sorted({i.key_pair_name for i in shown}))

# ---------------------------------------------------------------- ENS
en = EnsClient(ali_config())
rows, pageno = [], 1
while True:
    body = en.describe_instances(ens.DescribeInstancesRequest(page_number=pageno, page_size=100)).body
    rows += body.instances.instance
    if len(rows) >= body.total_count:
        break
    pageno += 1
ids = [i.instance_id for i in rows if i.key_pair_name == "cc_ens_bulk_instances"]
check("ENS default world: >= 31 stopped Linux instances bound to cc_ens_bulk_instances", len(ids) >= 31, len(ids))
refused("ENS DetachKeyPair with 31 instances", lambda: en.detach_key_pair(ens.DetachKeyPairRequest(
    key_pair_id="ssh-ensbulkins", instance_ids=ids[:31])))
b = en.detach_key_pair(ens.DetachKeyPairRequest(key_pair_id="ssh-ensbulkins", instance_ids=ids[:30])).body
m = b.to_map()
check("ENS DetachKeyPair with 30 instances", len(m["Results"]) == 30 and all(x["Success"] is True for x in m["Results"]),
      f"{len(m['Results'])} results, TotalCount {m.get('TotalCount')!r}")
shown = en.describe_instances(ens.DescribeInstancesRequest(instance_ids=json.dumps(ids[:30]), page_size=100)).body
check("ENS DescribeInstances: the 30 show no key pair",
      len(shown.instances.instance) == 30 and all(not i.key_pair_name for i in shown.instances.instance))
en.attach_key_pair(ens.AttachKeyPairRequest(key_pair_id="ssh-ensfree00001", instance_ids=ids[1:31]))
shown = en.describe_instances(ens.DescribeInstancesRequest(instance_ids=json.dumps(ids[1:31]), page_size=100)).body
check("ENS AttachKeyPair with 30 instances replaces the key (incl. the one still holding the bulk key)",
      all(i.key_pair_name == "cc_ens_free_1" for i in shown.instances.instance),
      sorted({i.key_pair_name for i in shown.instances.instance}))

print(f"\n{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
