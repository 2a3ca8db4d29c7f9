//! The bounded fuzz smoke run (docs/emulator.md "Fuzzing"): a few thousand abusive requests
//! through the HTTP front, and arbitrary in-process requests through `handle_raw`. Any panic,
//! 5xx, missing answer or answer that is not a provider envelope fails. The long run is
//! `cloudconform bench --fuzz 1000000`.
mod emulator_support;

use cloudconform::emulator::{fuzz, Emulator, EmulatorConfig};
use cloudconform::http::RawRequest;
use cloudconform::sign::Credentials;
use emulator_support::{self as support, ROOT_ID, ROOT_SECRET};
use proptest::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_requests_over_http_get_envelopes() {
    let emu = support::start_with(EmulatorConfig {
        rate_limits: false,
        ..EmulatorConfig::default()
    })
    .await;
    let key = || Credentials::new(ROOT_ID, ROOT_SECRET);
    for seed in [1, 2] {
        let inputs = fuzz::Inputs::new(seed, &emu.host(), key(), key());
        let report = fuzz::drive(emu.addr, inputs, 1_500, 8).await;
        assert!(
            report.failures.is_empty(),
            "seed {seed}: {} failures, first: {:#?}",
            report.failures.len() + report.more_failures,
            report.failures.first()
        );
    }
}

fn header() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just("Authorization".to_string()),
            Just("X-TC-Action".to_string()),
            Just("x-acs-action".to_string()),
            Just("Content-Type".to_string()),
            Just("Host".to_string()),
            "[a-zA-Z-]{1,12}",
            "\\PC{1,8}",
        ],
        prop_oneof![
            Just("TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2026-01-01/cvm/tc3_request".to_string()),
            Just(
                "ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE,SignedHeaders=host,Signature=00"
                    .to_string()
            ),
            Just("application/json".to_string()),
            Just("application/x-www-form-urlencoded".to_string()),
            Just("DeleteKeyPairs".to_string()),
            ".{0,40}",
        ],
    )
}

fn request() -> impl Strategy<Value = RawRequest> {
    (
        prop_oneof![
            Just("GET".to_string()),
            Just("POST".to_string()),
            Just("PUT".to_string()),
            "[A-Z]{1,8}"
        ],
        prop_oneof![Just("/".to_string()), "/[a-z/]{0,12}"],
        prop_oneof![
            Just("Action=DetachKeyPair&Version=2014-05-26&AccessKeyId=AKIDEXAMPLE".to_string()),
            Just(
                "Action=DeleteKeyPairs&Version=2017-03-12&SecretId=AKIDEXAMPLE&KeyIds.0=x"
                    .to_string()
            ),
            "[ -~]{0,80}",
        ],
        proptest::collection::vec(header(), 0..6),
        prop_oneof![
            Just(b"{\"KeyIds\": [\"skey-1\"]}".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..120),
        ],
    )
        .prop_map(|(method, path, raw_query, headers, body)| RawRequest {
            method,
            path,
            raw_query,
            headers,
            body,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_in_process_get_envelopes(request in request()) {
        thread_local! {
            static EMULATOR: Emulator = Emulator::new(EmulatorConfig {
                rate_limits: false,
                ..EmulatorConfig::default()
            })
            .expect("emulator");
        }
        let response = EMULATOR.with(|e| e.handle_raw(request));
        prop_assert_eq!(fuzz::envelope_problem(&response), None);
    }
}
