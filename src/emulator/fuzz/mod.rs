//! Abuse for the emulator's own robustness checks: raw HTTP requests, mostly freshly signed
//! calls of the modelled actions with one thing broken (a value, a header, the method, the
//! framing, the bytes), and a driver that sends them over TCP and fails on any answer that is
//! not one of the providers' envelopes, any 5xx and any request left unanswered.
//!
//! Used by `cloudconform bench --fuzz N` (the long run, with RSS before and after) and by the
//! bounded smoke run in `tests/emulator_fuzz.rs`. The control API (`/_cloudconform/`) is never
//! a target: its answers are plain JSON by design.
mod drive;

pub use drive::{drive, envelope_problem, rss_bytes, Failure, Report};

use crate::http::RawRequest;
use crate::sign::{self, Credentials, Provider, Scheme, SignInput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One fuzzed request.
#[derive(Debug, Clone)]
pub struct Input {
    pub bytes: Vec<u8>,
    /// Framing is broken or cut short: send it on its own connection and half-close after it,
    /// so the server sees the end instead of waiting for bytes that never come.
    pub alone: bool,
    /// What was done to it, for failure reports.
    pub mutation: &'static str,
}

/// A deterministic stream of fuzzed requests for `host`, signed with `credentials`
/// (one Tencent and one Alibaba account of the world).
pub struct Inputs {
    rng: StdRng,
    host: String,
    tencent: Credentials,
    alibaba: Credentials,
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "X",
];

impl Inputs {
    pub fn new(seed: u64, host: &str, tencent: Credentials, alibaba: Credentials) -> Inputs {
        Inputs {
            rng: StdRng::seed_from_u64(seed),
            host: host.to_string(),
            tencent,
            alibaba,
        }
    }

    fn text(&mut self, max: usize) -> String {
        let len = self.rng.random_range(0..=max);
        let pick: u8 = self.rng.random_range(0..4);
        (0..len)
            .map(|_| match pick {
                0 => self.rng.random_range(b'a'..=b'z') as char,
                1 => self.rng.random_range(0x20u8..0x7f) as char,
                2 => ['中', 'é', '"', '\\', '%', '&', '=', '+', ' '][self.rng.random_range(0..9)],
                _ => char::from_u32(self.rng.random_range(0x20..0x3000)).unwrap_or('?'),
            })
            .collect()
    }

    /// A freshly signed call of a modelled action (nothing that creates resources, so the
    /// world stays the size it is).
    fn base(&mut self) -> RawRequest {
        let id = |rng: &mut StdRng, prefix: &str| format!("{prefix}{:08x}", rng.random::<u32>());
        let host = self.host.clone();
        let (scheme, input, key) = match self.rng.random_range(0..7) {
            0 => {
                let body = serde_json::json!({"KeyIds": [id(&mut self.rng, "skey-")]});
                let input = SignInput::fresh(
                    Provider::Tencent,
                    "POST",
                    host,
                    "DeleteKeyPairs",
                    "2017-03-12",
                )
                .with_region("ap-guangzhou")
                .with_body(body.to_string(), "application/json");
                (Scheme::Tc3HmacSha256, input, &self.tencent)
            }
            1 => {
                let input = SignInput::fresh(
                    Provider::Tencent,
                    "POST",
                    host,
                    "DescribeKeyPairs",
                    "2017-03-12",
                )
                .with_region("ap-guangzhou")
                .with_body("{\"Limit\": 5}", "application/json");
                (Scheme::Tc3HmacSha256, input, &self.tencent)
            }
            2 => {
                let input = SignInput::fresh(
                    Provider::Tencent,
                    "POST",
                    host,
                    "DisassociateInstancesKeyPairs",
                    "2017-03-12",
                )
                .with_region("ap-guangzhou")
                .with_param("InstanceIds.0", id(&mut self.rng, "ins-"))
                .with_param("KeyIds.0", id(&mut self.rng, "skey-"));
                (Scheme::TencentHmacSha256, input, &self.tencent)
            }
            3 => {
                let input = SignInput::fresh(
                    Provider::Tencent,
                    "POST",
                    host,
                    "DisassociateInstancesKeyPairs",
                    "2019-07-19",
                )
                .with_param("InstanceIds.0", id(&mut self.rng, "ein-"))
                .with_param("KeyIds.0", id(&mut self.rng, "skey-"));
                (Scheme::TencentHmacSha1, input, &self.tencent)
            }
            4 => {
                let input = SignInput::fresh(
                    Provider::Alibaba,
                    "POST",
                    host,
                    "DetachKeyPair",
                    "2014-05-26",
                )
                .with_param("RegionId", "cn-hangzhou")
                .with_param("KeyPairName", id(&mut self.rng, "k"))
                .with_param("InstanceIds", format!("[\"{}\"]", id(&mut self.rng, "i-")));
                (Scheme::RpcHmacSha1, input, &self.alibaba)
            }
            5 => {
                let input = SignInput::fresh(
                    Provider::Alibaba,
                    "POST",
                    host,
                    "DescribeKeyPairs",
                    "2014-05-26",
                )
                .with_param("RegionId", "cn-hangzhou");
                (Scheme::Acs3HmacSha256, input, &self.alibaba)
            }
            _ => {
                let input = SignInput::fresh(
                    Provider::Alibaba,
                    "POST",
                    host,
                    "DetachKeyPair",
                    "2017-11-10",
                )
                .with_param("KeyPairId", id(&mut self.rng, "ssh-"))
                .with_param("InstanceIds", format!("[\"{}\"]", id(&mut self.rng, "i-")));
                (Scheme::Acs3HmacSm3, input, &self.alibaba)
            }
        };
        let mut input = input;
        if self.rng.random_bool(0.01) {
            // Long nonces: refused by length, never remembered.
            input.nonce = "n".repeat(self.rng.random_range(200..50_000));
        }
        match sign::sign(scheme, &input, key) {
            Ok(signed) => signed.request,
            Err(_) => RawRequest {
                method: "POST".into(),
                path: "/".into(),
                ..RawRequest::default()
            },
        }
    }

    /// The next request: ~94 % well framed (the answer keeps the connection), the rest with
    /// broken framing, sent alone.
    pub fn next_input(&mut self) -> Input {
        let mut request = self.base();
        let roll: u32 = self.rng.random_range(0..1000);
        let mutation = match roll {
            0..100 => "none",
            100..250 => {
                // A parameter or the body replaced by something else.
                if !request.body.is_empty() && self.rng.random_bool(0.5) {
                    let at = self.rng.random_range(0..request.body.len());
                    let junk = self.text(64);
                    request.body.splice(at..at, junk.bytes());
                } else {
                    let extra = format!("{}={}", self.text(12), self.text(2048));
                    request.raw_query = if request.raw_query.is_empty() {
                        extra
                    } else {
                        format!("{}&{extra}", request.raw_query)
                    };
                }
                "value"
            }
            250..400 => {
                for _ in 0..self.rng.random_range(1..8) {
                    let name = format!("X-{}", self.token(16));
                    let value = self.text(256).replace(['\r', '\n'], " ");
                    request.headers.push((name, value));
                }
                "headers"
            }
            400..500 => {
                if !request.headers.is_empty() {
                    let i = self.rng.random_range(0..request.headers.len());
                    if self.rng.random_bool(0.5) {
                        request.headers.remove(i);
                    } else {
                        let value = self.text(64).replace(['\r', '\n'], " ");
                        request.headers[i].1 = value;
                    }
                }
                "header-value"
            }
            500..600 => {
                request.method = METHODS[self.rng.random_range(0..METHODS.len())].to_string();
                "method"
            }
            600..700 => {
                let path = self.token(40);
                request.path = format!("/{path}");
                request.raw_query = self.text(300).replace(['#', ' ', '\r', '\n'], "%20");
                "target"
            }
            700..800 => {
                for _ in 0..self.rng.random_range(1..16) {
                    if request.body.is_empty() {
                        break;
                    }
                    let at = self.rng.random_range(0..request.body.len());
                    request.body[at] = self.rng.random();
                }
                "body-bytes"
            }
            800..880 => {
                // Same content under another Content-Type, or none.
                request.remove_header("content-type");
                let types = [
                    "application/xml",
                    "text/plain",
                    "application/json; charset=gbk",
                    "multipart/form-data",
                ];
                if self.rng.random_bool(0.7) {
                    request.headers.push((
                        "Content-Type".into(),
                        types[self.rng.random_range(0..types.len())].into(),
                    ));
                }
                "content-type"
            }
            880..940 => {
                let mut bytes = serialize(&request);
                return self.chunked_or_garbled(&mut bytes, &request);
            }
            _ => return self.framing(request),
        };
        if is_control(&request.path) {
            request.path = "/".into();
        }
        Input {
            bytes: serialize(&request),
            alone: false,
            mutation,
        }
    }

    fn token(&mut self, max: usize) -> String {
        let len = self.rng.random_range(1..=max);
        (0..len)
            .map(|_| {
                let chars = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
                chars[self.rng.random_range(0..chars.len())] as char
            })
            .collect()
    }

    /// Well-framed chunked bodies (kept on the connection) or byte flips anywhere (alone).
    fn chunked_or_garbled(&mut self, bytes: &mut Vec<u8>, request: &RawRequest) -> Input {
        if self.rng.random_bool(0.5) {
            let mut head = format!("{} {} HTTP/1.1\r\n", request.method, target(request));
            for (n, v) in &request.headers {
                if !n.eq_ignore_ascii_case("content-length") {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
            }
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let mut out = head.into_bytes();
            for chunk in request.body.chunks(self.rng.random_range(1..64)) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            return Input {
                bytes: out,
                alone: false,
                mutation: "chunked",
            };
        }
        for _ in 0..self.rng.random_range(1..6) {
            let at = self.rng.random_range(0..bytes.len());
            bytes[at] = self.rng.random();
        }
        Input {
            bytes: std::mem::take(bytes),
            alone: true,
            mutation: "flipped-bytes",
        }
    }

    /// Broken framing: sent alone and half-closed.
    fn framing(&mut self, request: RawRequest) -> Input {
        let mut bytes = serialize(&request);
        let mutation = match self.rng.random_range(0..8) {
            0 => {
                // At least one byte: a connection closed with nothing sent is no request.
                let at = self.rng.random_range(1..bytes.len());
                bytes.truncate(at);
                "truncated"
            }
            1 => {
                let text = String::from_utf8_lossy(&bytes).replacen(
                    "Content-Length: ",
                    [
                        "Content-Length: x",
                        "Content-Length: -",
                        "Content-Length: 99999999999999999999",
                    ][self.rng.random_range(0..3)],
                    1,
                );
                bytes = text.into_bytes();
                "content-length"
            }
            2 => {
                let text = String::from_utf8_lossy(&bytes).replacen(
                    "\r\n\r\n",
                    "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    1,
                );
                bytes = text.into_bytes();
                "transfer-encoding"
            }
            3 => {
                bytes = (0..self.rng.random_range(1..4096))
                    .map(|_| self.rng.random())
                    .collect();
                "random-bytes"
            }
            4 => {
                let n = self.rng.random_range(90..140);
                let many: String = (0..n).map(|i| format!("X-H{i}: v\r\n")).collect();
                let text =
                    String::from_utf8_lossy(&bytes).replacen("\r\n", &format!("\r\n{many}"), 1);
                bytes = text.into_bytes();
                "many-headers"
            }
            5 => {
                let big = format!(
                    "\r\nX-Big: {}",
                    "v".repeat(self.rng.random_range(1..300_000))
                );
                let text =
                    String::from_utf8_lossy(&bytes).replacen("\r\n", &format!("{big}\r\n"), 1);
                bytes = text.into_bytes();
                "big-head"
            }
            6 => {
                let line = [
                    "GET / HTTP/2.0",
                    "GET /",
                    "GET  / HTTP/1.1",
                    "G\x01T / HTTP/1.1",
                    "\x16\x03\x01",
                ][self.rng.random_range(0..5)];
                let text = String::from_utf8_lossy(&bytes);
                let rest = text.split_once("\r\n").map(|(_, r)| r).unwrap_or("");
                bytes = format!("{line}\r\n{rest}").into_bytes();
                "request-line"
            }
            _ => {
                let text =
                    String::from_utf8_lossy(&bytes).replacen("\r\n", "\r\nX-Ctl: a\x00b\r\n", 1);
                bytes = text.into_bytes();
                "header-bytes"
            }
        };
        Input {
            bytes,
            alone: true,
            mutation,
        }
    }
}

fn is_control(path: &str) -> bool {
    path.starts_with("/_cloudconform")
}

fn target(request: &RawRequest) -> String {
    if request.raw_query.is_empty() {
        request.path.clone()
    } else {
        format!("{}?{}", request.path, request.raw_query)
    }
}

/// A request as HTTP/1.1 bytes, with a Content-Length matching its body.
pub fn serialize(request: &RawRequest) -> Vec<u8> {
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, target(request));
    for (n, v) in &request.headers {
        if !n.eq_ignore_ascii_case("content-length") {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", request.body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(&request.body);
    out
}
