//! The one place the emulator checks signatures: a thin adapter over [`crate::sign::verify`].
//!
//! It looks secrets up in the world's accounts, takes "now" and the skew windows from the
//! emulator's clock and the provider spec, and turns a [`VerifyError`] into the protocol
//! condition the specs name: the code, status and message come from the provider spec like
//! every other answer's. On a signature mismatch the message carries what the server computed
//! (canonical request / string to sign) — never a secret or the expected signature.
use super::world::{AccountRole, World};
use crate::http::RawRequest;
use crate::sign::{
    self, CredentialLookup, Credentials, NonceCache, VerifyError, VerifyErrorKind, VerifyPolicy,
};
use crate::spec::{Provider, ProviderSpec, Trigger};

/// Who sent a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
    pub role: AccountRole,
    pub scheme: sign::Scheme,
}

/// A request that did not authenticate, in spec terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// The spec trigger that answers this failure.
    pub trigger: Trigger,
    /// What is wrong (a documented message's `<StringToSign>`: the server's string to sign).
    pub detail: String,
    /// What the server computed, appended to whichever message answers (a client author diffs
    /// it against their own canonical request); empty when there is nothing to show.
    pub appendix: String,
}

/// How tolerant verification is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// Check signatures at all (off: only the access key must exist).
    pub verify_signatures: bool,
    /// Reject reused Alibaba nonces.
    pub check_nonces: bool,
    /// Alibaba skew window override (default: the provider spec's `skew_seconds.default`).
    pub alibaba_skew_secs: Option<i64>,
    /// Refuse timestamps outside the skew window (off only for a served deviation).
    pub check_skew: bool,
    /// Common parameters a request may leave out (only a served deviation names any).
    pub may_omit: Vec<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            verify_signatures: true,
            check_nonces: true,
            alibaba_skew_secs: None,
            check_skew: true,
            may_omit: Vec::new(),
        }
    }
}

struct AccountKeys<'a> {
    world: &'a World,
    provider: Provider,
}

impl CredentialLookup for AccountKeys<'_> {
    fn lookup(&self, access_key_id: &str) -> Option<Credentials> {
        let account = self.world.account(self.provider, access_key_id)?;
        let mut c = Credentials::new(&account.access_key_id, &account.secret);
        if let Some(token) = &account.token {
            c = c.with_session_token(token);
        }
        Some(c)
    }
}

/// Verify `request` as `provider` would, at server time `now`.
pub fn authenticate(
    request: &RawRequest,
    provider: &ProviderSpec,
    world: &World,
    nonces: &NonceCache,
    now: i64,
    settings: AuthSettings,
) -> Result<Caller, AuthFailure> {
    let mut policy = VerifyPolicy::at(now);
    policy.check_nonces = settings.check_nonces;
    policy.may_omit = settings.may_omit;
    match provider.provider {
        Provider::Tencent => policy.tencent_skew_secs = provider.skew_seconds.default,
        Provider::Alibaba => {
            policy.alibaba_skew_secs = settings
                .alibaba_skew_secs
                .unwrap_or(provider.skew_seconds.default)
        }
    }
    if !settings.check_skew {
        // A century either way: no timestamp a client sends is refused for its age.
        policy.tencent_skew_secs = 100 * 365 * 86_400;
        policy.alibaba_skew_secs = 100 * 365 * 86_400;
    }
    let keys = AccountKeys {
        world,
        provider: provider.provider,
    };
    let verified = sign::verify(provider.provider, request, &keys, nonces, &policy);
    let (access_key_id, scheme) = match verified {
        Ok(v) => (v.access_key_id, v.scheme),
        Err(e) if !settings.verify_signatures && is_signature_only(&e) => {
            // Signatures off: accept once the key is known.
            match unverified_identity(request, provider.provider) {
                Some(found) => found,
                None => return Err(failure(e)),
            }
        }
        Err(e) => return Err(failure(e)),
    };
    let Some(account) = world.account(provider.provider, &access_key_id) else {
        return Err(failure(VerifyError::new(
            provider.provider,
            VerifyErrorKind::UnknownAccessKey(access_key_id),
        )));
    };
    Ok(Caller {
        access_key_id,
        role: account.role,
        scheme,
    })
}

fn is_signature_only(e: &VerifyError) -> bool {
    matches!(
        e.kind,
        VerifyErrorKind::SignatureMismatch
            | VerifyErrorKind::ContentHashMismatch
            | VerifyErrorKind::CredentialScopeDate { .. }
    )
}

/// The access key id a request names, without verifying anything.
fn unverified_identity(request: &RawRequest, provider: Provider) -> Option<(String, sign::Scheme)> {
    let auth = request.header("authorization").unwrap_or_default().trim();
    if let Some(rest) = auth.strip_prefix("TC3-HMAC-SHA256 Credential=") {
        let id = rest.split('/').next()?;
        return Some((id.to_string(), sign::Scheme::Tc3HmacSha256));
    }
    if auth.starts_with("ACS3-") {
        let rest = auth.split_once("Credential=")?.1;
        let id = rest.split(',').next()?;
        return Some((id.to_string(), sign::Scheme::Acs3HmacSha256));
    }
    let params = sign::encoding::query_and_form_params(request);
    let find = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .and_then(|(_, v)| String::from_utf8(v.clone()).ok())
    };
    match provider {
        Provider::Tencent => find("SecretId").map(|id| (id, sign::Scheme::TencentHmacSha1)),
        Provider::Alibaba => find("AccessKeyId").map(|id| (id, sign::Scheme::RpcHmacSha1)),
    }
}

fn failure(e: VerifyError) -> AuthFailure {
    let Some(debug) = e.debug.as_deref() else {
        return AuthFailure {
            trigger: e.trigger(),
            detail: e.kind.to_string(),
            appendix: String::new(),
        };
    };
    let appendix = match (e.provider, &debug.canonical_request) {
        // Tencent's messages have no slot for it.
        (sign::Provider::Tencent, Some(canonical)) => format!(
            " Server canonical request:\n{canonical}\nServer string to sign:\n{}",
            debug.string_to_sign
        ),
        (sign::Provider::Tencent, None) => {
            format!(" Server string to sign: {}", debug.string_to_sign)
        }
        // Alibaba's message ends with the string to sign (aliyun-python-sdk-core parses it,
        // RPC only); ACS3 clients also get the canonical request.
        (sign::Provider::Alibaba, Some(canonical)) if debug.scheme != sign::Scheme::RpcHmacSha1 => {
            format!(" canonical request is:{canonical}")
        }
        (sign::Provider::Alibaba, _) => String::new(),
    };
    AuthFailure {
        trigger: e.trigger(),
        detail: debug.string_to_sign.clone(),
        appendix,
    }
}
