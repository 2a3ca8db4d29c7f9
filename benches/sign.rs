//! Signing and verification throughput per scheme, measured in one run:
//! `cargo bench --bench sign` (set `SIGN_BENCH_ITERATIONS` to change the loop size).
//!
//! Each scheme signs N distinct calls (a seed-API-sized request, unique nonce each) into complete
//! requests, then verifies those N requests against one shared nonce cache, as the emulator does.
//! Input preparation happens outside the timed loops.
use cloudconform::http::RawRequest;
use cloudconform::sign::{sign, verify, Credentials, NonceCache, Scheme, SignInput, VerifyPolicy};
use std::hint::black_box;
use std::time::{Duration, Instant};

const TIMESTAMP: i64 = 1_795_361_616;

fn call(scheme: Scheme, i: usize) -> SignInput {
    let (host, action, version) = match scheme.provider() {
        cloudconform::sign::Provider::Tencent => {
            ("cvm.tencentcloudapi.com", "DeleteKeyPairs", "2017-03-12")
        }
        cloudconform::sign::Provider::Alibaba => (
            "ecs.cn-hangzhou.aliyuncs.com",
            "DetachKeyPair",
            "2014-05-26",
        ),
    };
    let method = if scheme == Scheme::RpcHmacSha1 || scheme == Scheme::Tc3HmacSha256 {
        "POST"
    } else {
        "GET"
    };
    let mut input = SignInput::new(method, host, action, version, TIMESTAMP, i.to_string())
        .with_region("ap-guangzhou");
    match scheme {
        Scheme::Tc3HmacSha256 => {
            input = input.with_body(
                r#"{"KeyIds": ["skey-mv9yzyjj", "skey-3cvmq2vn"]}"#,
                "application/json",
            );
        }
        Scheme::TencentHmacSha1 | Scheme::TencentHmacSha256 => {
            input = input
                .with_param("KeyIds.0", "skey-mv9yzyjj")
                .with_param("KeyIds.1", "skey-3cvmq2vn");
        }
        Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3 | Scheme::RpcHmacSha1 => {
            input = input
                .with_param(
                    "InstanceIds",
                    r#"["i-bp1d6tsvznfghy7y0001","i-bp1ippxbaql9zet70002"]"#,
                )
                .with_param("KeyPairName", "test key*~'()!/中+&=");
        }
    }
    input
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn main() {
    let n: usize = std::env::var("SIGN_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let credentials = Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE");
    let policy = VerifyPolicy::at(TIMESTAMP);
    println!("{n} iterations per scheme");
    println!(
        "{:<18} {:>14} {:>16} {:>15}",
        "scheme", "signatures/s", "verifications/s", "verify/sign"
    );
    for scheme in Scheme::ALL {
        let inputs: Vec<SignInput> = (0..n).map(|i| call(scheme, i)).collect();

        let start = Instant::now();
        let requests: Vec<RawRequest> = inputs
            .iter()
            .map(|input| {
                black_box(sign(scheme, input, &credentials).expect("bench input signs")).request
            })
            .collect();
        let sign_time = start.elapsed();

        let nonces = NonceCache::new();
        let start = Instant::now();
        for request in &requests {
            let verified = verify(scheme.provider(), request, &credentials, &nonces, &policy);
            assert!(black_box(verified).is_ok(), "{scheme} request verifies");
        }
        let verify_time = start.elapsed();

        let signs = per_second(n, sign_time);
        let verifies = per_second(n, verify_time);
        println!(
            "{:<18} {:>14.0} {:>16.0} {:>15.2}",
            scheme.wire_name(),
            signs,
            verifies,
            verifies / signs
        );
    }
}
