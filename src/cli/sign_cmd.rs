//! `cloudconform sign`: sign one call and print every intermediate string and the final request.
//! Credentials come from `sign::sources`; the secret is never printed.
use super::exit;
use anyhow::{anyhow, bail, Context, Result};
use cloudconform::http::RawRequest;
use cloudconform::sign::signer::fresh_nonce;
use cloudconform::sign::tencent_v1::flatten_json;
use cloudconform::sign::{clock, sign, sources, Intermediates, Provider, Scheme, SignInput};
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;

/// Sign a request the way the official SDKs do and show the canonical request, string to sign,
/// signature and the request to send.
///
/// Credentials: found as the run finds them (CLOUDCONFORM_*, the cloud's SDK variables, the
/// tccli/aliyun CLI files; README "Credentials").
/// `--body` is JSON: TC3 POST sends it verbatim, TC3 GET and the
/// Tencent v1 schemes flatten it to `Name.N` parameters (0-based), Alibaba schemes turn its
/// top-level fields into parameters (non-string values as compact JSON text, like ECS
/// `InstanceIds`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// tencent or alibaba (implied by --scheme).
    #[arg(long)]
    provider: Option<Provider>,
    /// tc3, tc-hmac-sha1, tc-hmac-sha256, acs3, acs3-sm3 or rpc (default: tc3 / acs3).
    #[arg(long)]
    scheme: Option<Scheme>,
    /// Endpoint host, with `:port` when not the default.
    #[arg(long)]
    host: Option<String>,
    #[arg(long)]
    action: Option<String>,
    #[arg(long)]
    version: Option<String>,
    #[arg(long)]
    region: Option<String>,
    /// GET or POST (default POST).
    #[arg(long)]
    method: Option<String>,
    /// An API parameter, repeatable.
    #[arg(long = "param", value_name = "K=V")]
    params: Vec<String>,
    /// API parameters as a JSON object.
    #[arg(long, value_name = "JSON")]
    body: Option<String>,
    /// Unix seconds (default: now).
    #[arg(long)]
    timestamp: Option<i64>,
    /// Nonce (default: random).
    #[arg(long)]
    nonce: Option<String>,
    /// A JSON file with the same fields (flags given on the command line win).
    #[arg(long, value_name = "FILE.json")]
    request: Option<PathBuf>,
    /// The tccli / aliyun CLI profile to read credentials from (default: theirs).
    #[arg(long, value_name = "NAME")]
    cli_profile: Option<String>,
}

/// The `--request` file: the flags' fields plus a few that have no flag.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    provider: Option<String>,
    scheme: Option<String>,
    host: Option<String>,
    action: Option<String>,
    version: Option<String>,
    region: Option<String>,
    method: Option<String>,
    #[serde(default)]
    params: FileParams,
    /// A JSON object, or a string holding the exact body text.
    body: Option<Value>,
    timestamp: Option<i64>,
    nonce: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    signed_headers: Vec<String>,
    service: Option<String>,
    #[serde(default)]
    unsigned_payload: bool,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum FileParams {
    Pairs(Vec<(String, String)>),
    Object(serde_json::Map<String, Value>),
}

impl Default for FileParams {
    fn default() -> Self {
        FileParams::Pairs(Vec::new())
    }
}

pub fn run(args: Args) -> u8 {
    let cli_profile = args.cli_profile.clone();
    let prepared = prepare(args).and_then(|(scheme, input)| {
        let env = sources::Environment::process();
        let found = sources::load(scheme.provider(), cli_profile.as_deref(), &env)?;
        eprintln!("credentials: {} from {}", scheme.provider(), found.source);
        Ok((scheme, input, found.credentials))
    });
    let (scheme, input, credentials) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            eprintln!("error: {error:#}");
            return exit::USAGE;
        }
    };
    match sign(scheme, &input, &credentials) {
        Ok(signed) => {
            out!("{}", render(scheme, &signed.intermediates, &signed.request));
            exit::OK
        }
        Err(error) => {
            eprintln!("error: {error}");
            exit::USAGE
        }
    }
}

fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn prepare(args: Args) -> Result<(Scheme, SignInput)> {
    let file: RequestFile = match &args.request {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{}: not a valid request file", path.display()))?
        }
        None => RequestFile::default(),
    };
    let provider = match (args.provider, file.provider.as_deref()) {
        (Some(p), _) => Some(p),
        (None, Some(p)) => Some(p.parse::<Provider>().map_err(|e| anyhow!(e))?),
        (None, None) => None,
    };
    let scheme = match (args.scheme, file.scheme.as_deref()) {
        (Some(s), _) => Some(s),
        (None, Some(s)) => Some(s.parse::<Scheme>().map_err(|e| anyhow!(e))?),
        (None, None) => None,
    };
    let scheme = match (scheme, provider) {
        (Some(scheme), Some(provider)) if scheme.provider() != provider => {
            bail!("scheme {} is not a {provider} scheme", scheme.cli_name())
        }
        (Some(scheme), _) => scheme,
        (None, Some(Provider::Tencent)) => Scheme::Tc3HmacSha256,
        (None, Some(Provider::Alibaba)) => Scheme::Acs3HmacSha256,
        (None, None) => bail!("--provider or --scheme is required"),
    };
    let required = |flag: Option<String>, from_file: Option<String>, name: &str| {
        flag.or(from_file)
            .ok_or_else(|| anyhow!("--{name} is required"))
    };
    let host = required(args.host, file.host, "host")?;
    let action = required(args.action, file.action, "action")?;
    let version = required(args.version, file.version, "version")?;
    let method = args
        .method
        .or(file.method)
        .unwrap_or_else(|| "POST".into())
        .to_ascii_uppercase();
    let timestamp = args
        .timestamp
        .or(file.timestamp)
        .unwrap_or_else(clock::unix_now);
    let nonce = args
        .nonce
        .or(file.nonce)
        .unwrap_or_else(|| fresh_nonce(scheme.provider()));

    let mut input = SignInput::new(method, host, action, version, timestamp, nonce);
    input.region = args.region.or(file.region);
    input.headers = file.headers;
    input.extra_signed_headers = file.signed_headers;
    input.service = file.service;
    input.unsigned_payload = file.unsigned_payload;
    input.params = match file.params {
        FileParams::Pairs(pairs) => pairs,
        FileParams::Object(map) => map.iter().map(|(k, v)| (k.clone(), json_text(v))).collect(),
    };
    for param in &args.params {
        let (k, v) = param
            .split_once('=')
            .ok_or_else(|| anyhow!("--param `{param}` is not K=V"))?;
        input.params.push((k.to_string(), v.to_string()));
    }
    let body_text = match (args.body, file.body) {
        (Some(text), _) => Some(text),
        (None, Some(Value::String(text))) => Some(text),
        (None, Some(value)) => Some(value.to_string()),
        (None, None) => None,
    };
    if let Some(text) = body_text {
        let value: Value = serde_json::from_str(&text).context("--body is not JSON")?;
        apply_body(scheme, &mut input, text, &value)?;
    }
    Ok((scheme, input))
}

/// Place JSON parameters where the scheme carries them.
fn apply_body(scheme: Scheme, input: &mut SignInput, text: String, value: &Value) -> Result<()> {
    match scheme {
        Scheme::Tc3HmacSha256 if input.method != "GET" => {
            input.body = Some(text.into_bytes());
            input.content_type = Some("application/json".into());
        }
        Scheme::Tc3HmacSha256 | Scheme::TencentHmacSha1 | Scheme::TencentHmacSha256 => {
            input.params.extend(flatten_json(value));
        }
        Scheme::Acs3HmacSha256 | Scheme::Acs3HmacSm3 | Scheme::RpcHmacSha1 => {
            let object = value
                .as_object()
                .ok_or_else(|| anyhow!("--body must be a JSON object"))?;
            input
                .params
                .extend(object.iter().map(|(k, v)| (k.clone(), json_text(v))));
        }
    }
    Ok(())
}

fn section(out: &mut String, title: &str, body: &str) {
    out.push_str(&format!("== {title}\n{body}\n"));
}

/// Everything a person debugging a signature needs, in signing order.
fn render(scheme: Scheme, intermediates: &Intermediates, request: &RawRequest) -> String {
    let mut out = String::new();
    section(
        &mut out,
        "scheme",
        &format!("{} ({})", scheme.wire_name(), scheme.provider()),
    );
    if let Some(canonical) = intermediates.canonical_request() {
        section(&mut out, "canonical request", canonical);
    } else if let Some(query) = intermediates.canonicalized_query_string() {
        section(&mut out, "canonicalized query string", query);
    }
    section(&mut out, "string to sign", intermediates.string_to_sign());
    section(&mut out, "signature", intermediates.signature());
    let headers: Vec<String> = request
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    section(&mut out, "headers", &headers.join("\n"));
    if !request.raw_query.is_empty() {
        section(&mut out, "query", &request.raw_query);
    }
    if !request.body.is_empty() {
        section(&mut out, "body", &String::from_utf8_lossy(&request.body));
    }
    section(&mut out, "request", &curl(request));
    out
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// A curl command line that sends exactly these bytes (modulo curl's own headers).
fn curl(request: &RawRequest) -> String {
    let host = request.host().unwrap_or_default();
    let base = if host.contains("://") {
        host.to_string()
    } else {
        format!("https://{host}")
    };
    let mut url = format!("{base}{}", request.path);
    if !request.raw_query.is_empty() {
        url.push('?');
        url.push_str(&request.raw_query);
    }
    let mut parts = vec![
        "curl".to_string(),
        "-X".into(),
        request.method.clone(),
        shell_quote(&url),
    ];
    for (name, value) in &request.headers {
        parts.push("-H".into());
        parts.push(shell_quote(&format!("{name}: {value}")));
    }
    if !request.body.is_empty() {
        parts.push("--data-binary".into());
        parts.push(shell_quote(&String::from_utf8_lossy(&request.body)));
    }
    parts.join(" ")
}
