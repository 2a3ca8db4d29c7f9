//! The testee protocol (docs/testee-protocol.md): JSON lines between the harness and an adapter.
//! Every message an adapter sends is validated against its JSON Schema in
//! `docs/testee-protocol/` before it is believed; the harness's own messages follow the same
//! schemas (tested).
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The protocol version this harness speaks. An adapter answering another version is refused.
pub const VERSION: u32 = 1;

/// Harness → adapter, first line: where the endpoint is and who to be.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hello {
    #[serde(rename = "type")]
    pub kind: MustBe<HelloTag>,
    pub protocol: u32,
    pub endpoint: Endpoint,
    pub credentials: Credentials,
    /// Default region per provider (`tencent`, `alibaba`).
    pub regions: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// `http` or `https`.
    pub scheme: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret: String,
}

/// Harness → adapter: run one case with one signing method.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseMsg {
    #[serde(rename = "type")]
    pub kind: MustBe<CaseTag>,
    /// `case id` + `#` + method, unique within a run; echoed in the result.
    pub id: String,
    pub provider: String,
    pub service: String,
    pub version: String,
    pub action: String,
    pub region: String,
    /// Business parameters in neutral form: arrays as JSON arrays, even where the wire carries
    /// them as one JSON string (see `encodings`).
    pub params: Map<String, Value>,
    /// Per parameter, how the spec puts it on the wire (`native`, `json-string`, `repeat-list`,
    /// `comma-joined`), for adapters that build requests themselves.
    pub encodings: Map<String, Value>,
    /// `style/signing` as the provider spec names them, e.g. `json-post/tc3-hmac-sha256`.
    pub method: String,
}

/// Adapter → harness, answer to the hello.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HelloReply {
    Identity(Identity),
    /// The SDK cannot run here (not installed, no registry): a skip, or a failure in CI.
    Unavailable {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    pub protocol: u32,
    /// Package name, e.g. `tencentcloud-sdk-python`.
    pub sdk: String,
    pub version: String,
    pub language: String,
    /// Actions it can call: `provider/service/version/Action`.
    pub actions: Vec<String>,
    /// `style/signing` methods it can use.
    pub methods: Vec<String>,
}

/// Adapter → harness, answer to a case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResultMsg {
    #[serde(rename = "type")]
    pub kind: MustBe<ResultTag>,
    pub id: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The SDK returned normally: its parsed result as JSON, in the provider's field names.
    Ok { data: Value },
    /// The SDK raised or returned a service error, as it exposes it.
    Error { error: SdkError },
    /// The adapter cannot express this case with this SDK (reason says why).
    Skipped { reason: String },
    /// The adapter itself failed on this case (not a judgement of the SDK).
    Errored { reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SdkError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub http_status: Option<u16>,
}

/// A string-typed `type` tag with one allowed value, so the structs serialize as the schemas say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MustBe<T>(std::marker::PhantomData<T>);

pub trait Tag {
    const NAME: &'static str;
}
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HelloTag;
impl Tag for HelloTag {
    const NAME: &'static str = "hello";
}
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseTag;
impl Tag for CaseTag {
    const NAME: &'static str = "case";
}
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResultTag;
impl Tag for ResultTag {
    const NAME: &'static str = "result";
}

impl<T: Tag> Serialize for MustBe<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(T::NAME)
    }
}

impl<'de, T: Tag> Deserialize<'de> for MustBe<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == T::NAME {
            Ok(MustBe(std::marker::PhantomData))
        } else {
            Err(serde::de::Error::custom(format!(
                "type is `{s}`, expected `{}`",
                T::NAME
            )))
        }
    }
}

/// The `bye` line that ends a session.
pub fn bye() -> Value {
    serde_json::json!({"type": "bye"})
}

/// Where the message schemas live (`docs/testee-protocol/`).
pub fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/testee-protocol")
}

/// The compiled schemas of the messages an adapter sends.
pub struct Schemas {
    hello_reply: jsonschema::Validator,
    result: jsonschema::Validator,
}

impl Schemas {
    pub fn load(dir: &Path) -> Result<Schemas, String> {
        let compile = |name: &str| -> Result<jsonschema::Validator, String> {
            let path = dir.join(name);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let schema: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            jsonschema::validator_for(&schema).map_err(|e| format!("{}: {e}", path.display()))
        };
        Ok(Schemas {
            hello_reply: compile("hello-reply.schema.json")?,
            result: compile("result.schema.json")?,
        })
    }

    /// Parse and validate an adapter's answer to the hello.
    pub fn hello_reply(&self, line: &str) -> Result<HelloReply, String> {
        parse(&self.hello_reply, "hello-reply.schema.json", line)
    }

    /// Parse and validate an adapter's answer to a case.
    pub fn result(&self, line: &str) -> Result<ResultMsg, String> {
        parse(&self.result, "result.schema.json", line)
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    schema: &jsonschema::Validator,
    name: &str,
    line: &str,
) -> Result<T, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    if let Some(err) = schema.iter_errors(&value).next() {
        return Err(format!(
            "does not follow {name}: {} at `{}`",
            err,
            err.instance_path()
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("does not follow {name}: {e}"))
}
