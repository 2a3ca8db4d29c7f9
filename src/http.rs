//! The raw HTTP exchange as it travels on the wire, shared by every side of the harness.
//!
//! Signers read and fill a [`RawRequest`], verifiers check one, the emulator turns what axum
//! received into one, the runner sends one, and captures deserialize into one. Keeping the bytes
//! exactly as sent (raw query, header order and case, body bytes) is what makes verification of
//! real SDK traffic possible: several SDKs sign what they sent, not a normalised form.

/// One HTTP request, exactly as sent or received.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawRequest {
    /// Upper-case method, e.g. `POST`.
    pub method: String,
    /// Path without the query, e.g. `/`.
    pub path: String,
    /// Query string as received, without the leading `?`, never decoded.
    pub raw_query: String,
    /// Headers in arrival order with their original case; duplicates appear twice.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RawRequest {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The Host header value as received (may carry a port, or for tccli a scheme).
    pub fn host(&self) -> Option<&str> {
        self.header("host")
    }

    /// Replace (or add) a header, keeping its position if present.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(slot) = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            slot.1 = value;
        } else {
            self.headers.push((name.to_string(), value));
        }
    }

    /// Remove every header with this name.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// One HTTP response as received or produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
