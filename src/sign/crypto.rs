//! Hash and HMAC primitives used by the signature schemes, in one place so every scheme hashes
//! and compares the same way (constant-time comparison included).
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use sm3::Sm3;
use subtle::ConstantTimeEq;

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Lower-case hex SM3 of `data`.
pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(Sm3::digest(data))
}

/// HMAC-SHA256.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC is defined for keys of every length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA1.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key)
        .expect("HMAC is defined for keys of every length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HMAC-SM3.
pub fn hmac_sm3(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sm3> as KeyInit>::new_from_slice(key)
        .expect("HMAC is defined for keys of every length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Constant-time equality; slices of different lengths compare unequal (length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_known_answers() {
        // aliyun/darabonba-openapi-util python/tests/test_client.py (vectors/acs3 primitive_cases).
        assert_eq!(
            sha256_hex(b"test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(
            sm3_hex(b"test"),
            "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23"
        );
        assert_eq!(
            hex::encode(hmac_sm3(b"secret", b"source")),
            "b9ff646822f41ef647c1416fa2b8408923828abc0464af6706e18db3e8553da8"
        );
    }

    #[test]
    fn constant_time_eq_rejects_length_difference() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
