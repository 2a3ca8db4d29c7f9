//! Request signing and verification for Tencent Cloud and Alibaba Cloud.
//!
//! One module per scheme computes its intermediate strings ([`tc3`], [`tencent_v1`], [`acs3`],
//! [`rpc_v1`]); [`signer`] turns a provider-neutral [`SignInput`] into a signed
//! [`RawRequest`](crate::http::RawRequest) the way the official SDKs do; [`verify`] checks a
//! received request the way the providers do and maps failures to their documented error codes.
//! Depends only on [`crate::http`]; the runner and the emulator depend on this module, never the
//! other way round. Secrets live in [`credentials::Secret`] and never reach an error or a log;
//! [`sources`] is the one place every command finds them (environment, tccli, aliyun CLI).
use std::fmt;
use std::str::FromStr;

pub mod acs3;
pub mod capture;
pub mod clock;
pub mod credentials;
pub mod crypto;
pub mod encoding;
pub mod error;
pub mod nonce;
pub mod rpc_v1;
pub mod signer;
pub mod sources;
pub mod tc3;
pub mod tencent_v1;
pub mod verify;

pub use credentials::{CredentialLookup, CredentialStore, Credentials, Secret};
pub use error::{ComputedReading, SignError, SignatureDebug, VerifyError, VerifyErrorKind};
pub use nonce::NonceCache;
pub use signer::{sign, Intermediates, SignInput, Signed};
pub use verify::{verify, HostReading, RoutedValue, Verified, VerifyPolicy};

/// The cloud whose rules apply (error codes, statuses, skew windows).
pub use crate::provider::Provider;

/// A signature scheme as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Tencent `TC3-HMAC-SHA256` (`Authorization` header).
    Tc3HmacSha256,
    /// Tencent legacy v1, `SignatureMethod=HmacSHA1` (or absent).
    TencentHmacSha1,
    /// Tencent legacy v1, `SignatureMethod=HmacSHA256`.
    TencentHmacSha256,
    /// Alibaba `ACS3-HMAC-SHA256` (`Authorization` header).
    Acs3HmacSha256,
    /// Alibaba `ACS3-HMAC-SM3`.
    Acs3HmacSm3,
    /// Alibaba RPC `HMAC-SHA1`, `SignatureVersion=1.0` (`Signature` parameter).
    RpcHmacSha1,
}

impl Scheme {
    pub const ALL: [Scheme; 6] = [
        Scheme::Tc3HmacSha256,
        Scheme::TencentHmacSha1,
        Scheme::TencentHmacSha256,
        Scheme::Acs3HmacSha256,
        Scheme::Acs3HmacSm3,
        Scheme::RpcHmacSha1,
    ];

    pub fn provider(self) -> Provider {
        match self {
            Scheme::Tc3HmacSha256 | Scheme::TencentHmacSha1 | Scheme::TencentHmacSha256 => {
                Provider::Tencent
            }
            Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3 | Scheme::RpcHmacSha1 => Provider::Alibaba,
        }
    }

    /// The algorithm name the provider puts on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            Scheme::Tc3HmacSha256 => "TC3-HMAC-SHA256",
            Scheme::TencentHmacSha1 => "HmacSHA1",
            Scheme::TencentHmacSha256 => "HmacSHA256",
            Scheme::Acs3HmacSha256 => "ACS3-HMAC-SHA256",
            Scheme::Acs3HmacSm3 => "ACS3-HMAC-SM3",
            Scheme::RpcHmacSha1 => "HMAC-SHA1",
        }
    }

    /// The name used on the `cloudconform sign --scheme` command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            Scheme::Tc3HmacSha256 => "tc3",
            Scheme::TencentHmacSha1 => "tc-hmac-sha1",
            Scheme::TencentHmacSha256 => "tc-hmac-sha256",
            Scheme::Acs3HmacSha256 => "acs3",
            Scheme::Acs3HmacSm3 => "acs3-sm3",
            Scheme::RpcHmacSha1 => "rpc",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

impl FromStr for Scheme {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.cli_name().eq_ignore_ascii_case(s) || scheme.wire_name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Scheme::ALL.iter().map(|s| s.cli_name()).collect();
                format!("unknown scheme `{s}` ({})", names.join(", "))
            })
    }
}
