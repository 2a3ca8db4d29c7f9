//! What the specs answer a verifier failure with, shared by the signing tests.
#![allow(dead_code)] // each test binary uses part of it
use cloudconform::sign::VerifyError;
use cloudconform::spec::SpecSet;

/// The code and HTTP status the provider spec answers a verifier failure with (the verifier
/// names the condition; the spec the code).
pub fn answer(error: &VerifyError) -> (String, u16) {
    static SPECS: std::sync::OnceLock<SpecSet> = std::sync::OnceLock::new();
    let specs = SPECS.get_or_init(|| SpecSet::load_default().expect("specs load"));
    let trigger = error.trigger();
    let code = specs
        .provider(error.provider)
        .and_then(|p| p.answer(&trigger))
        .unwrap_or_else(|| panic!("no code answers {trigger:?}"));
    (code.code.clone(), code.http_status)
}
