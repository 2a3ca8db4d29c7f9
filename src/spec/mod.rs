//! Specs: the machine-readable encoding of each API (parameters, limits, preconditions,
//! effects, errors, response shape) and of each provider's protocol.
//!
//! Everything downstream (generator, emulator, checks, reports) reads facts from here and
//! hard-codes none. This module depends on nothing else in the crate.
mod crossref;
mod lint;
pub mod model;
mod refs;

pub use lint::{Problem, DEFAULT_SPECS_DIR_NAME, META_SCHEMA};
pub use model::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a spec directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec directory {dir}: {source}")]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} problem(s) in the specs:\n{}", .0.len(), Problem::list(.0))]
    Invalid(Vec<Problem>),
}

/// Every provider and action spec of one directory, validated and cross-checked.
#[derive(Debug, Clone)]
pub struct SpecSet {
    root: PathBuf,
    providers: BTreeMap<Provider, Arc<ProviderSpec>>,
    actions: BTreeMap<ActionKey, Arc<ActionSpec>>,
    /// Raw JSON of every file, keyed by its path relative to the root with `/` separators;
    /// kept so response schemas can be compiled with their `$ref`s resolved.
    documents: BTreeMap<String, serde_json::Value>,
    /// Relative file of each action.
    files: BTreeMap<ActionKey, String>,
}

impl SpecSet {
    /// Load and lint every spec under `root`; any problem fails the load.
    pub fn load(root: impl AsRef<Path>) -> Result<SpecSet, SpecError> {
        let (set, problems) = lint::lint_dir(root.as_ref())?;
        match set {
            Some(set) if problems.is_empty() => Ok(set),
            _ => Err(SpecError::Invalid(problems)),
        }
    }

    /// Lint without failing: the problems found (empty when the directory is clean).
    pub fn lint(root: impl AsRef<Path>) -> Result<Vec<Problem>, SpecError> {
        Ok(lint::lint_dir(root.as_ref())?.1)
    }

    /// The directory specs are read from when none is given: `$CLOUDCONFORM_SPECS`, else
    /// `./specs` when it holds a meta-schema, else the crate's own `specs/`.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("CLOUDCONFORM_SPECS") {
            return PathBuf::from(dir);
        }
        let local = PathBuf::from(DEFAULT_SPECS_DIR_NAME);
        if local.join("spec.schema.json").is_file() {
            return local;
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_SPECS_DIR_NAME)
    }

    /// Load the default directory.
    pub fn load_default() -> Result<SpecSet, SpecError> {
        SpecSet::load(SpecSet::default_dir())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn provider(&self, provider: Provider) -> Option<&Arc<ProviderSpec>> {
        self.providers.get(&provider)
    }

    pub fn providers(&self) -> impl Iterator<Item = &Arc<ProviderSpec>> {
        self.providers.values()
    }

    pub fn action(&self, key: &ActionKey) -> Option<&Arc<ActionSpec>> {
        self.actions.get(key)
    }

    /// Every action, in key order (stable across runs).
    pub fn actions(&self) -> impl Iterator<Item = &Arc<ActionSpec>> {
        self.actions.values()
    }

    /// The APIs under test.
    pub fn seeds(&self) -> impl Iterator<Item = &Arc<ActionSpec>> {
        self.actions.values().filter(|a| a.role == Role::Seed)
    }

    /// Find an action by provider, service and name, any version (routing by action name).
    pub fn find(&self, provider: Provider, service: &str, action: &str) -> Vec<&Arc<ActionSpec>> {
        self.actions
            .values()
            .filter(|a| a.provider == provider && a.service == service && a.action == action)
            .collect()
    }

    /// Versions of a service the specs know.
    pub fn service_versions(&self, provider: Provider, service: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .actions
            .keys()
            .filter(|k| k.provider == provider && k.service == service)
            .map(|k| k.version.as_str())
            .collect();
        v.dedup();
        v
    }

    /// The spec file of an action, relative to the root.
    pub fn file_of(&self, key: &ActionKey) -> Option<&str> {
        self.files.get(key).map(String::as_str)
    }

    /// Compile a JSON Schema embedded in the spec file `file` (relative to the root), with
    /// `$ref`s resolved against every loaded spec document.
    pub fn compile_schema(
        &self,
        file: &str,
        schema: &serde_json::Value,
    ) -> Result<jsonschema::Validator, String> {
        refs::compile_with_documents(&self.documents, file, schema)
    }

    /// Compile an action's success-response schema.
    pub fn response_validator(&self, key: &ActionKey) -> Result<jsonschema::Validator, String> {
        let action = self
            .action(key)
            .ok_or_else(|| format!("no spec for {key}"))?;
        let file = self.file_of(key).unwrap_or_default().to_string();
        self.compile_schema(&file, &action.response.schema)
    }

    /// Compile a provider's error-envelope schema.
    pub fn error_envelope_validator(
        &self,
        provider: Provider,
    ) -> Result<jsonschema::Validator, String> {
        self.envelope_validator(provider, |e| &e.error)
    }

    /// Compile a provider's success-envelope schema.
    pub fn success_envelope_validator(
        &self,
        provider: Provider,
    ) -> Result<jsonschema::Validator, String> {
        self.envelope_validator(provider, |e| &e.success)
    }

    fn envelope_validator(
        &self,
        provider: Provider,
        which: impl Fn(&Envelopes) -> &serde_json::Value,
    ) -> Result<jsonschema::Validator, String> {
        let spec = self
            .provider(provider)
            .ok_or_else(|| format!("no provider spec for {provider}"))?;
        let file = format!("{}/provider.json", provider.as_str());
        self.compile_schema(&file, which(&spec.envelopes))
    }

    /// The error code entry for `code` on `action`, falling back to the provider's common codes.
    pub fn error_code<'a>(&'a self, action: &'a ActionSpec, code: &str) -> Option<&'a ErrorCode> {
        let common = || self.provider(action.provider).map(|p| p.errors.as_slice());
        action
            .error(code)
            .or_else(|| common().and_then(|errors| errors.iter().find(|e| e.code == code)))
            .or_else(|| action.error_matching(code))
            .or_else(|| {
                common().and_then(|errors| errors.iter().find(|e| code_matches(&e.code, code)))
            })
    }

    /// The error codes that answer `trigger` on `action`: the action's own first, else the
    /// provider's common codes (whose parameter triggers use `*`).
    pub fn errors_for_trigger<'a>(
        &'a self,
        action: &'a ActionSpec,
        trigger: &Trigger,
    ) -> Vec<&'a ErrorCode> {
        let own: Vec<&ErrorCode> = action
            .errors
            .iter()
            .filter(|e| {
                e.triggers
                    .iter()
                    .any(|t| trigger_matches(t, trigger, false))
            })
            .collect();
        if !own.is_empty() {
            return own;
        }
        self.provider(action.provider)
            .map(|p| p.codes_for(trigger))
            .unwrap_or_default()
    }
}

impl ProviderSpec {
    /// The provider-wide codes that answer `trigger`, in the order listed: the first is the one
    /// an emulator answers, and every one is an answer the harness accepts (`*` parameter
    /// triggers match any parameter).
    pub fn codes_for(&self, trigger: &Trigger) -> Vec<&ErrorCode> {
        self.errors
            .iter()
            .filter(|e| e.triggers.iter().any(|t| trigger_matches(t, trigger, true)))
            .collect()
    }

    /// The provider-wide code that answers `trigger`: the one a discrepancy settled for it,
    /// else the first listed.
    pub fn answer(&self, trigger: &Trigger) -> Option<&ErrorCode> {
        let codes = self.codes_for(trigger);
        settled(&self.discrepancies, trigger)
            .and_then(|code| codes.iter().find(|c| c.code == code).copied())
            .or_else(|| codes.first().copied())
    }
}

/// The code a discrepancy settled for a protocol condition the docs leave open: the first
/// alternative of the first discrepancy about it.
pub fn settled<'a>(
    discrepancies: impl IntoIterator<Item = &'a Discrepancy>,
    trigger: &Trigger,
) -> Option<&'a str> {
    let Trigger::Protocol { condition, .. } = trigger else {
        return None;
    };
    discrepancies
        .into_iter()
        .find(|d| d.condition == Some(*condition))
        .and_then(|d| d.alternatives.first())
        .map(|a| a.code.as_str())
}

/// Whether a declared trigger answers a wanted one (notes ignored; `*` matches any parameter
/// when `wildcard` is set).
pub fn trigger_matches(declared: &Trigger, wanted: &Trigger, wildcard: bool) -> bool {
    match (declared, wanted) {
        (
            Trigger::Parameter {
                parameter: dp,
                violation: dv,
                ..
            },
            Trigger::Parameter {
                parameter: wp,
                violation: wv,
                ..
            },
        ) => dv == wv && (dp == wp || (wildcard && dp == "*")),
        (
            Trigger::OneOf {
                group: dg,
                violation: dv,
                ..
            },
            Trigger::OneOf {
                group: wg,
                violation: wv,
                ..
            },
        ) => dg == wg && dv == wv,
        (
            Trigger::Precondition {
                precondition: dp, ..
            },
            Trigger::Precondition {
                precondition: wp, ..
            },
        ) => dp == wp,
        (Trigger::Protocol { condition: dc, .. }, Trigger::Protocol { condition: wc, .. }) => {
            dc == wc
        }
        _ => false,
    }
}
