//! Access keys: the secret type that never prints, the credential triple, and the lookup the
//! verifier uses to find a secret by access key id. Loading them is [`super::sources`].
use std::collections::HashMap;
use std::fmt;
use subtle::ConstantTimeEq;

/// The harness's own variables for both clouds (`sources` reads them; curl lines in reports
/// refer to them).
pub const ENV_ACCESS_KEY_ID: &str = "CLOUDCONFORM_ACCESS_KEY_ID";
/// The secret access key, see [`ENV_ACCESS_KEY_ID`].
pub const ENV_SECRET_ACCESS_KEY: &str = "CLOUDCONFORM_SECRET_ACCESS_KEY";
/// An optional STS session token, see [`ENV_ACCESS_KEY_ID`].
pub const ENV_SECURITY_TOKEN: &str = "CLOUDCONFORM_SECURITY_TOKEN";

/// A secret string (secret key, session token). `Debug` and `Display` print `***`, equality is
/// constant-time, and the bytes are only reachable inside the crate, so a secret cannot leak
/// through an error, a log line or a debugger dump by accident.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

/// An access key: id, secret, and an optional STS session token (sent as `X-TC-Token`,
/// `x-acs-security-token` or `SecurityToken`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret: Secret,
    pub session_token: Option<Secret>,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret: Secret::new(secret),
            session_token: None,
        }
    }

    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(Secret::new(token));
        self
    }
}

/// Where the verifier finds the credentials for an access key id.
pub trait CredentialLookup: Send + Sync {
    fn lookup(&self, access_key_id: &str) -> Option<Credentials>;
}

/// A single key answers for its own id only.
impl CredentialLookup for Credentials {
    fn lookup(&self, access_key_id: &str) -> Option<Credentials> {
        (self.access_key_id == access_key_id).then(|| self.clone())
    }
}

/// An in-memory set of keys (the emulator's account table).
#[derive(Clone, Debug, Default)]
pub struct CredentialStore {
    keys: HashMap<String, Credentials>,
}

impl CredentialStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, credentials: Credentials) {
        self.keys
            .insert(credentials.access_key_id.clone(), credentials);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl FromIterator<Credentials> for CredentialStore {
    fn from_iter<I: IntoIterator<Item = Credentials>>(iter: I) -> Self {
        let mut store = Self::new();
        for credentials in iter {
            store.insert(credentials);
        }
        store
    }
}

impl CredentialLookup for CredentialStore {
    fn lookup(&self, access_key_id: &str) -> Option<Credentials> {
        self.keys.get(access_key_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let creds = Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE").with_session_token("TOKEN");
        let debug = format!("{creds:?} {:#?} {}", creds, creds.secret);
        assert!(!debug.contains("SECRETEXAMPLE"), "{debug}");
        assert!(!debug.contains("TOKEN\""), "{debug}");
        assert!(debug.contains("AKIDEXAMPLE"));
        assert!(debug.contains("***"));
    }

    #[test]
    fn secret_equality() {
        assert_eq!(Secret::new("abc"), Secret::new("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
    }

    #[test]
    fn store_lookup() {
        let store: CredentialStore = [Credentials::new("a", "1"), Credentials::new("b", "2")]
            .into_iter()
            .collect();
        assert_eq!(store.lookup("b").map(|c| c.secret), Some(Secret::new("2")));
        assert!(store.lookup("c").is_none());
        assert!(Credentials::new("a", "1").lookup("b").is_none());
    }
}
