//! Bounded nonce memory: an over-long Alibaba nonce is refused with the provider's parameter
//! code before it is remembered, for both Alibaba schemes (RPC `SignatureNonce`, ACS3
//! `x-acs-signature-nonce`).
mod emulator_support;

use cloudconform::sign::{self, Credentials, Scheme, SignInput};
use emulator_support::{self as support, ROOT_ID, ROOT_SECRET};

#[tokio::test]
async fn over_long_nonces_are_refused_with_the_parameter_code() {
    let emu = support::start().await;
    for (scheme, fill) in [(Scheme::RpcHmacSha1, "r"), (Scheme::Acs3HmacSha256, "a")] {
        for (length, accepted) in [(256, true), (257, false), (48 * 1024, false)] {
            let mut input = SignInput::fresh(
                sign::Provider::Alibaba,
                "POST",
                emu.host(),
                "DescribeKeyPairs",
                "2014-05-26",
            )
            .with_param("RegionId", "cn-hangzhou");
            input.nonce = fill.repeat(length);
            let request = sign::sign(scheme, &input, &Credentials::new(ROOT_ID, ROOT_SECRET))
                .unwrap()
                .request;
            let r = support::send(emu.addr, &request).await;
            let v = support::json(&r);
            if accepted {
                assert_eq!(r.status, 200, "{scheme:?} {length}: {v}");
            } else {
                assert_eq!(r.status, 400, "{scheme:?} {length}: {v}");
                assert_eq!(v["Code"], "InvalidParameter", "{v}");
                assert!(
                    v["Message"].as_str().unwrap().contains("SignatureNonce"),
                    "{v}"
                );
            }
        }
    }
}
