//! Where credentials come from: the one loader every command uses (`sign`, `run`, `verify`,
//! `cleanup`). It looks where each cloud's own tools look, so a machine already set up for
//! tccli or the aliyun CLI needs nothing more:
//!
//! 1. `CLOUDCONFORM_TENCENT_*` / `CLOUDCONFORM_ALIBABA_*` (`ACCESS_KEY_ID`, `SECRET_ACCESS_KEY`,
//!    `SECURITY_TOKEN`): this harness only, one provider;
//! 2. `CLOUDCONFORM_*` (the same three without a provider): this harness, any provider;
//! 3. the cloud's SDK variables: Tencent `TENCENTCLOUD_SECRET_ID`/`_SECRET_KEY`/`_SESSION_TOKEN`,
//!    Alibaba `ALIBABA_CLOUD_ACCESS_KEY_ID`/`_ACCESS_KEY_SECRET`/`_SECURITY_TOKEN`;
//! 4. the cloud's CLI file: tccli's `~/.tccli/<profile>.credential` (JSON `secretId`,
//!    `secretKey`, optional `token`), the aliyun CLI's `~/.aliyun/config.json` (`profiles[]` by
//!    `name`, modes `AK` and `StsToken`; the profile is the one asked for, else
//!    `ALIBABA_CLOUD_PROFILE`, else the file's `current`).
//!
//! The first family with any variable set wins, and must then be complete: a half-set family is
//! an error naming the missing variable rather than a silent fall-through to another account.
//! Errors and the [`Found::source`] text name variables and files, never a value.
use super::credentials::{Credentials, Secret};
use crate::provider::Provider;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Reads one environment variable.
type VarReader = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the loader reads: the environment and the home directory, injectable for tests.
pub struct Environment {
    vars: VarReader,
    home: Option<PathBuf>,
}

impl Environment {
    /// The process environment and `$HOME` (`USERPROFILE` on Windows).
    pub fn process() -> Environment {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map(PathBuf::from);
        Environment {
            vars: Box::new(|name| std::env::var(name).ok()),
            home,
        }
    }

    /// Fixed variables and home (tests).
    pub fn fixed(vars: &[(&str, &str)], home: Option<&Path>) -> Environment {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Environment {
            vars: Box::new(move |name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            }),
            home: home.map(Path::to_path_buf),
        }
    }

    /// A set, non-empty variable.
    fn var(&self, name: &str) -> Option<String> {
        (self.vars)(name).filter(|v| !v.is_empty())
    }
}

/// One family of variables: id, secret, token.
struct Family {
    id: String,
    secret: String,
    token: String,
}

impl Family {
    fn new(id: &str, secret: &str, token: &str) -> Family {
        Family {
            id: id.into(),
            secret: secret.into(),
            token: token.into(),
        }
    }

    fn harness(provider: Option<Provider>) -> Family {
        let p = provider
            .map(|p| format!("{}_", p.as_str().to_ascii_uppercase()))
            .unwrap_or_default();
        Family::new(
            &format!("CLOUDCONFORM_{p}ACCESS_KEY_ID"),
            &format!("CLOUDCONFORM_{p}SECRET_ACCESS_KEY"),
            &format!("CLOUDCONFORM_{p}SECURITY_TOKEN"),
        )
    }

    fn cloud(provider: Provider) -> Family {
        match provider {
            Provider::Tencent => Family::new(
                "TENCENTCLOUD_SECRET_ID",
                "TENCENTCLOUD_SECRET_KEY",
                "TENCENTCLOUD_SESSION_TOKEN",
            ),
            Provider::Alibaba => Family::new(
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                "ALIBABA_CLOUD_SECURITY_TOKEN",
            ),
        }
    }

    /// `None` when no variable of the family is set; an error when it is half set.
    fn read(&self, env: &Environment) -> Option<Result<Credentials, SourceError>> {
        let id = env.var(&self.id);
        let secret = env.var(&self.secret);
        let token = env.var(&self.token);
        if id.is_none() && secret.is_none() && token.is_none() {
            return None;
        }
        Some(match (id, secret) {
            (Some(id), Some(secret)) => {
                let mut c = Credentials::new(id, secret);
                c.session_token = token.map(Secret::new);
                Ok(c)
            }
            (None, _) => Err(SourceError::Incomplete {
                missing: self.id.clone(),
                given: self.secret.clone(),
            }),
            (Some(_), None) => Err(SourceError::Incomplete {
                missing: self.secret.clone(),
                given: self.id.clone(),
            }),
        })
    }
}

/// Credentials and where they were found (`env CLOUDCONFORM_ACCESS_KEY_ID...`,
/// `file /home/u/.tccli/default.credential`): printed by the run, never the secret.
#[derive(Debug, Clone)]
pub struct Found {
    pub credentials: Credentials,
    pub source: String,
}

/// Why no credentials could be loaded. Names variables, files and fields; never a value.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{given} is set but {missing} is not; set both (or neither)")]
    Incomplete { missing: String, given: String },
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error(
        "no {provider} credentials: set {harness_id}/{harness_secret}, {cloud_id}/{cloud_secret}, or {cli}"
    )]
    NotFound {
        provider: Provider,
        harness_id: String,
        harness_secret: String,
        cloud_id: String,
        cloud_secret: String,
        cli: String,
    },
}

/// Find `provider`'s credentials; `cli_profile` names the tccli/aliyun profile to read.
pub fn load(
    provider: Provider,
    cli_profile: Option<&str>,
    env: &Environment,
) -> Result<Found, SourceError> {
    let families = [
        Family::harness(Some(provider)),
        Family::harness(None),
        Family::cloud(provider),
    ];
    for family in &families {
        if let Some(read) = family.read(env) {
            return read.map(|credentials| Found {
                credentials,
                source: format!("environment ({}, {})", family.id, family.secret),
            });
        }
    }
    let from_file = match provider {
        Provider::Tencent => tccli(cli_profile, env),
        Provider::Alibaba => aliyun(cli_profile, env),
    };
    if let Some(found) = from_file {
        return found;
    }
    let harness = Family::harness(None);
    let cloud = Family::cloud(provider);
    Err(SourceError::NotFound {
        provider,
        harness_id: harness.id,
        harness_secret: harness.secret,
        cloud_id: cloud.id,
        cloud_secret: cloud.secret,
        cli: match provider {
            Provider::Tencent => "run `tccli configure` (~/.tccli/<profile>.credential)".into(),
            Provider::Alibaba => "run `aliyun configure` (~/.aliyun/config.json)".into(),
        },
    })
}

fn file_error(path: &Path, reason: impl Into<String>) -> SourceError {
    SourceError::File {
        file: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Read a JSON file; `None` when it does not exist. Parse errors carry the serde position but
/// never the text (it holds a secret).
fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<Result<T, SourceError>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(file_error(path, format!("cannot read: {e}")))),
    };
    Some(serde_json::from_str(&text).map_err(|e| {
        file_error(
            path,
            format!(
                "not the expected JSON (line {}, column {}: {:?})",
                e.line(),
                e.column(),
                e.classify()
            ),
        )
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TccliCredential {
    #[serde(default)]
    secret_id: String,
    #[serde(default)]
    secret_key: String,
    #[serde(default)]
    token: String,
    /// Role-based profiles (`assume-role`, `cvm-role`...) need a token exchange this harness
    /// does not do.
    #[serde(default, rename = "type")]
    kind: String,
}

fn tccli(profile: Option<&str>, env: &Environment) -> Option<Result<Found, SourceError>> {
    let name = profile.unwrap_or("default");
    let path = env
        .home
        .as_ref()?
        .join(".tccli")
        .join(format!("{name}.credential"));
    let parsed: TccliCredential = match read_json(&path)? {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    if !parsed.kind.is_empty() {
        return Some(Err(file_error(
            &path,
            format!(
                "credential type `{}` is not supported; use a secretId/secretKey profile or TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY",
                parsed.kind
            ),
        )));
    }
    for (field, value) in [
        ("secretId", &parsed.secret_id),
        ("secretKey", &parsed.secret_key),
    ] {
        if value.is_empty() {
            return Some(Err(file_error(
                &path,
                format!(
                    "field `{field}` is missing or empty; run `tccli configure --profile {name}`"
                ),
            )));
        }
    }
    let mut c = Credentials::new(parsed.secret_id, parsed.secret_key);
    if !parsed.token.is_empty() {
        c.session_token = Some(Secret::new(parsed.token));
    }
    Some(Ok(Found {
        credentials: c,
        source: format!("tccli profile `{name}` ({})", path.display()),
    }))
}

#[derive(Deserialize)]
struct AliyunConfig {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<AliyunProfile>,
}

#[derive(Deserialize)]
struct AliyunProfile {
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
}

fn aliyun(profile: Option<&str>, env: &Environment) -> Option<Result<Found, SourceError>> {
    let path = env.home.as_ref()?.join(".aliyun").join("config.json");
    let config: AliyunConfig = match read_json(&path)? {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    let name = profile
        .map(str::to_string)
        .or_else(|| env.var("ALIBABA_CLOUD_PROFILE"))
        .or_else(|| (!config.current.is_empty()).then(|| config.current.clone()))
        .unwrap_or_else(|| "default".into());
    let Some(p) = config.profiles.into_iter().find(|p| p.name == name) else {
        return Some(Err(file_error(
            &path,
            format!(
                "no profile named `{name}` in `profiles`; run `aliyun configure --profile {name}`"
            ),
        )));
    };
    let mode = if p.mode.is_empty() { "AK" } else { &p.mode };
    if mode != "AK" && mode != "StsToken" {
        return Some(Err(file_error(
            &path,
            format!(
                "profile `{name}`: mode `{mode}` is not supported (AK, StsToken); use ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET"
            ),
        )));
    }
    for (field, value) in [
        ("access_key_id", &p.access_key_id),
        ("access_key_secret", &p.access_key_secret),
    ] {
        if value.is_empty() {
            return Some(Err(file_error(
                &path,
                format!("profile `{name}`: field `{field}` is missing or empty"),
            )));
        }
    }
    let mut c = Credentials::new(p.access_key_id, p.access_key_secret);
    if mode == "StsToken" {
        if p.sts_token.is_empty() {
            return Some(Err(file_error(
                &path,
                format!("profile `{name}`: mode StsToken needs `sts_token`"),
            )));
        }
        c.session_token = Some(Secret::new(p.sts_token));
    }
    Some(Ok(Found {
        credentials: c,
        source: format!("aliyun profile `{name}` ({})", path.display()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn precedence_harness_provider_then_harness_then_cloud() {
        let env = Environment::fixed(
            &[
                ("CLOUDCONFORM_ACCESS_KEY_ID", "generic"),
                ("CLOUDCONFORM_SECRET_ACCESS_KEY", "s1"),
                ("CLOUDCONFORM_ALIBABA_ACCESS_KEY_ID", "ali"),
                ("CLOUDCONFORM_ALIBABA_SECRET_ACCESS_KEY", "s2"),
                ("TENCENTCLOUD_SECRET_ID", "tc"),
                ("TENCENTCLOUD_SECRET_KEY", "s3"),
            ],
            None,
        );
        let a = load(Provider::Alibaba, None, &env).unwrap();
        assert_eq!(a.credentials.access_key_id, "ali");
        assert!(a.source.contains("CLOUDCONFORM_ALIBABA_ACCESS_KEY_ID"));
        let t = load(Provider::Tencent, None, &env).unwrap();
        assert_eq!(t.credentials.access_key_id, "generic");
        let only_cloud = Environment::fixed(
            &[
                ("TENCENTCLOUD_SECRET_ID", "tc"),
                ("TENCENTCLOUD_SECRET_KEY", "s3"),
                ("TENCENTCLOUD_SESSION_TOKEN", "tok"),
            ],
            None,
        );
        let t = load(Provider::Tencent, None, &only_cloud).unwrap();
        assert_eq!(t.credentials.access_key_id, "tc");
        assert_eq!(t.credentials.session_token, Some(Secret::new("tok")));
        assert!(load(Provider::Alibaba, None, &only_cloud).is_err());
    }

    #[test]
    fn half_set_family_is_an_error_naming_the_missing_variable() {
        let env = Environment::fixed(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "x")], None);
        let e = load(Provider::Alibaba, None, &env).unwrap_err().to_string();
        assert!(e.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), "{e}");
    }

    #[test]
    fn tccli_profile_file() {
        let h = home();
        std::fs::create_dir_all(h.path().join(".tccli")).unwrap();
        std::fs::write(
            h.path().join(".tccli/work.credential"),
            r#"{"secretId": "AKIDfile", "secretKey": "FILESECRET"}"#,
        )
        .unwrap();
        let env = Environment::fixed(&[], Some(h.path()));
        let f = load(Provider::Tencent, Some("work"), &env).unwrap();
        assert_eq!(f.credentials.access_key_id, "AKIDfile");
        assert!(f.source.contains("work.credential"), "{}", f.source);
        let e = load(Provider::Tencent, None, &env).unwrap_err().to_string();
        assert!(e.contains("tccli configure"), "{e}");
        std::fs::write(
            h.path().join(".tccli/default.credential"),
            r#"{"secretId": "AKIDfile", "secretKey": "FILESECRET", "type": "assume-role"}"#,
        )
        .unwrap();
        let e = load(Provider::Tencent, None, &env).unwrap_err().to_string();
        assert!(
            e.contains("assume-role") && !e.contains("FILESECRET"),
            "{e}"
        );
        std::fs::write(
            h.path().join(".tccli/default.credential"),
            "{\"secretKey\": \"FILESECRET\"",
        )
        .unwrap();
        let e = load(Provider::Tencent, None, &env).unwrap_err().to_string();
        assert!(
            e.contains("default.credential") && !e.contains("FILESECRET"),
            "{e}"
        );
    }

    #[test]
    fn aliyun_config_profiles() {
        let h = home();
        std::fs::create_dir_all(h.path().join(".aliyun")).unwrap();
        std::fs::write(
            h.path().join(".aliyun/config.json"),
            r#"{"current": "ak", "profiles": [
                {"name": "ak", "mode": "AK", "access_key_id": "LTAIak", "access_key_secret": "S1",
                 "sts_token": "", "region_id": "cn-hangzhou", "output_format": "json"},
                {"name": "sts", "mode": "StsToken", "access_key_id": "STS.x", "access_key_secret": "S2",
                 "sts_token": "TOKEN2"},
                {"name": "oauth", "mode": "OAuth"}
            ]}"#,
        )
        .unwrap();
        let env = Environment::fixed(&[], Some(h.path()));
        assert_eq!(
            load(Provider::Alibaba, None, &env)
                .unwrap()
                .credentials
                .access_key_id,
            "LTAIak"
        );
        let sts = load(Provider::Alibaba, Some("sts"), &env).unwrap();
        assert_eq!(sts.credentials.session_token, Some(Secret::new("TOKEN2")));
        let by_env = Environment::fixed(&[("ALIBABA_CLOUD_PROFILE", "sts")], Some(h.path()));
        assert_eq!(
            load(Provider::Alibaba, None, &by_env)
                .unwrap()
                .credentials
                .access_key_id,
            "STS.x"
        );
        let e = load(Provider::Alibaba, Some("oauth"), &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("OAuth"), "{e}");
        let e = load(Provider::Alibaba, Some("nope"), &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`nope`"), "{e}");
    }
}
