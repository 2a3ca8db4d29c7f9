//! `cloudconform verify`: replay captured requests through the verifier, each at its own capture
//! time, and on a failure point at the first line where our canonical form differs from the
//! reference intermediates (`verification.jsonl` beside the captures file).
use super::exit;
use anyhow::{anyhow, bail, Context, Result};
use cloudconform::sign::capture::{
    parse_capture, parse_references, CaptureRecord, ReferenceRecord,
};
use cloudconform::sign::{
    sources, verify, CredentialLookup, Credentials, HostReading, NonceCache, Provider, Secret,
    VerifyError, VerifyPolicy,
};
use cloudconform::spec::{SpecSet, Trigger};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Verify every record of a captures file (JSON lines) with each provider's secret (found as
/// every command finds credentials, or from `--secret-env`) and the access key id each record
/// carries.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// captures.jsonl
    #[arg(long, value_name = "FILE.jsonl")]
    captures: PathBuf,
    /// Only the record with this `seq`.
    #[arg(long)]
    seq: Option<u64>,
    /// Environment variable holding the secret (default: the usual credential sources).
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
    /// The tccli / aliyun CLI profile to read credentials from (default: theirs).
    #[arg(long, value_name = "NAME")]
    cli_profile: Option<String>,
}

/// A provider's secret answers for whichever access key id a record names.
struct SecretForAnyKey {
    secret: Secret,
    token: Option<Secret>,
}

/// The secret of each provider the records need.
type Secrets = HashMap<Provider, SecretForAnyKey>;

impl CredentialLookup for SecretForAnyKey {
    fn lookup(&self, access_key_id: &str) -> Option<Credentials> {
        Some(Credentials {
            access_key_id: access_key_id.to_string(),
            secret: self.secret.clone(),
            session_token: self.token.clone(),
        })
    }
}

pub fn run(args: Args) -> u8 {
    match load(&args) {
        Ok((records, references, secrets)) => {
            let nonces = NonceCache::new();
            // The codes a failure is answered with come from the provider specs; without them
            // a failure is reported by its protocol condition alone.
            let specs = SpecSet::load_default().ok();
            let mut failures = 0;
            for record in &records {
                if !report(record, &references, &secrets, &nonces, specs.as_ref()) {
                    failures += 1;
                }
            }
            outln!("{} verified, {failures} failed", records.len() - failures);
            if failures == 0 {
                exit::OK
            } else {
                exit::NONCONFORMANCE
            }
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            exit::USAGE
        }
    }
}

type Loaded = (Vec<CaptureRecord>, Vec<ReferenceRecord>, Secrets);

fn load(args: &Args) -> Result<Loaded> {
    let path = &args.captures;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), index + 1);
        let record = parse_capture(line).map_err(|reason| anyhow!("{}: {reason}", at()))?;
        if record.provider().is_none() {
            bail!("{}: unknown family `{}`", at(), record.family);
        }
        if args.seq.is_none_or(|seq| seq == record.seq) {
            records.push(record);
        }
    }
    if records.is_empty() {
        match args.seq {
            Some(seq) => bail!("{}: no record with seq {seq}", path.display()),
            None => bail!("{}: no records", path.display()),
        }
    }
    let references = load_references(path)?;
    let env = sources::Environment::process();
    let mut secrets = Secrets::new();
    for provider in records.iter().filter_map(CaptureRecord::provider) {
        if secrets.contains_key(&provider) {
            continue;
        }
        let entry = match &args.secret_env {
            Some(var) => SecretForAnyKey {
                secret: Secret::new(
                    std::env::var(var)
                        .ok()
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| anyhow!("environment variable {var} is not set"))?,
                ),
                token: None,
            },
            None => {
                let found = sources::load(provider, args.cli_profile.as_deref(), &env)?;
                eprintln!("credentials: {provider} from {}", found.source);
                SecretForAnyKey {
                    secret: found.credentials.secret,
                    token: found.credentials.session_token,
                }
            }
        };
        secrets.insert(provider, entry);
    }
    Ok((records, references, secrets))
}

/// `verification.jsonl` next to the captures, when present.
fn load_references(captures: &Path) -> Result<Vec<ReferenceRecord>> {
    let path = captures.with_file_name("verification.jsonl");
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse_references(&text).map_err(|e| anyhow!("{}:{}: {}", path.display(), e.line, e.reason))
}

/// Print one record's outcome; `true` when it verified.
fn report(
    record: &CaptureRecord,
    references: &[ReferenceRecord],
    secrets: &Secrets,
    nonces: &NonceCache,
    specs: Option<&SpecSet>,
) -> bool {
    let Some((provider, lookup)) = record
        .provider()
        .and_then(|p| secrets.get(&p).map(|s| (p, s)))
    else {
        return false;
    };
    let policy = VerifyPolicy::at(record.now());
    let head = format!("seq {} {}", record.seq, record.label);
    match verify(provider, &record.request, lookup, nonces, &policy) {
        Ok(verified) => {
            let host = match verified.host_reading {
                HostReading::AsReceived => "",
                HostReading::WithoutPort => ", host signed without port",
            };
            outln!("{head}: OK ({}{host})", verified.scheme);
            true
        }
        Err(error) => {
            outln!("{head}: FAIL {} ({error})", answer(&error, specs));
            let reference = references.iter().find(|r| r.seq == record.seq);
            out!("{}", explain(&error, reference));
            false
        }
    }
}

/// The condition a failure is, and the code its provider spec answers it with.
fn answer(error: &VerifyError, specs: Option<&SpecSet>) -> String {
    let trigger = error.trigger();
    let condition = match &trigger {
        Trigger::Protocol { condition, .. } => condition.as_str().to_string(),
        Trigger::Parameter {
            parameter,
            violation,
            ..
        } => format!("{parameter} {}", violation.as_str()),
        _ => String::new(),
    };
    let code = specs
        .and_then(|s| s.provider(error.provider))
        .and_then(|p| p.answer(&trigger));
    match code {
        Some(code) => format!("{} [{condition}]", code.code),
        None => condition,
    }
}

/// The first differing line against the reference, or the computed strings when there is none.
fn explain(error: &VerifyError, reference: Option<&ReferenceRecord>) -> String {
    let Some(debug) = error.debug.as_deref() else {
        return String::new();
    };
    let reference_canonical = reference
        .and_then(|r| {
            r.canonical_request
                .as_ref()
                .or(r.canonicalized_query_string.as_ref())
        })
        .map(String::as_str);
    // Compare the reading the client used when the verifier tried several (TC3 host forms).
    let (canonical, string_to_sign) = debug
        .other_readings
        .iter()
        .find(|other| Some(other.canonical_request.as_str()) == reference_canonical)
        .map(|other| {
            (
                Some(other.canonical_request.as_str()),
                other.string_to_sign.as_str(),
            )
        })
        .unwrap_or((
            debug.canonical_request.as_deref(),
            debug.string_to_sign.as_str(),
        ));
    let pairs = [
        ("canonical request", canonical, reference_canonical),
        (
            "string to sign",
            Some(string_to_sign),
            reference.and_then(|r| r.string_to_sign.as_deref()),
        ),
    ];
    let mut out = String::new();
    let mut compared = false;
    for (name, computed, wanted) in pairs {
        let (Some(computed), Some(wanted)) = (computed, wanted) else {
            continue;
        };
        compared = true;
        if let Some((line, ours, theirs)) = first_difference(computed, wanted) {
            out.push_str(&format!(
                "    {name} differs at line {line}:\n      computed:  {}\n      reference: {}\n",
                ours.unwrap_or("<none>"),
                theirs.unwrap_or("<none>")
            ));
            return out;
        }
    }
    if compared {
        out.push_str(
            "    canonical request and string to sign equal the reference: the secret differs\n",
        );
        return out;
    }
    if let Some(canonical) = &debug.canonical_request {
        out.push_str(&format!(
            "    computed canonical request:\n{}\n",
            indent(canonical)
        ));
    }
    out.push_str(&format!(
        "    computed string to sign:\n{}\n",
        indent(&debug.string_to_sign)
    ));
    out
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// 1-based line number and the two lines where `a` and `b` first differ.
fn first_difference<'a>(
    a: &'a str,
    b: &'a str,
) -> Option<(usize, Option<&'a str>, Option<&'a str>)> {
    let (mut left, mut right) = (a.split('\n'), b.split('\n'));
    for line in 1.. {
        match (left.next(), right.next()) {
            (None, None) => return None,
            (l, r) if l != r => return Some((line, l, r)),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::first_difference;

    #[test]
    fn finds_the_first_differing_line() {
        assert_eq!(first_difference("a\nb\nc", "a\nb\nc"), None);
        assert_eq!(
            first_difference("a\nb\nc", "a\nx\nc"),
            Some((2, Some("b"), Some("x")))
        );
        assert_eq!(first_difference("a", "a\nb"), Some((2, None, Some("b"))));
    }
}
