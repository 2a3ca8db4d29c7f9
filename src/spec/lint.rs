//! Loading and linting a spec directory: JSON syntax, the meta-schema, then cross-references.
//!
//! Every problem names the file (relative to the spec root), a JSON pointer into it, what is
//! wrong and what to change, so `cloudconform spec lint` output can be acted on directly.
use super::crossref::{check_action, check_provider};
use super::model::*;
use super::refs::{check_refs, compile_with_documents};
use super::{SpecError, SpecSet};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The meta-schema every spec file is validated against (also kept at `specs/spec.schema.json`).
pub const META_SCHEMA: &str = include_str!("../../specs/spec.schema.json");
pub const DEFAULT_SPECS_DIR_NAME: &str = "specs";

/// One thing wrong with one spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path relative to the spec root, `/`-separated.
    pub file: String,
    /// JSON pointer into the file ("" for the whole document).
    pub pointer: String,
    pub message: String,
    pub fix: String,
}

impl Problem {
    pub(super) fn new(
        file: &str,
        pointer: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Problem {
            file: file.to_string(),
            pointer: pointer.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn list(problems: &[Problem]) -> String {
        problems.iter().map(|p| format!("  {p}\n")).collect()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{}: {}: {}; fix: {}",
            self.file, pointer, self.message, self.fix
        )
    }
}

fn meta_validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(META_SCHEMA).expect("the embedded meta-schema is valid JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .expect("the embedded meta-schema compiles")
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json")
            && path.file_name().is_some_and(|n| n != "spec.schema.json")
        {
            out.push(path);
        }
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Lint every spec under `root`. Returns the set when every file at least deserialized, and
/// all problems found.
pub(super) fn lint_dir(root: &Path) -> Result<(Option<SpecSet>, Vec<Problem>), SpecError> {
    let mut files = Vec::new();
    collect_files(root, &mut files).map_err(|source| SpecError::Io {
        dir: root.to_path_buf(),
        source,
    })?;
    let meta = meta_validator();
    let mut problems = Vec::new();
    let mut documents = BTreeMap::new();
    let mut providers = BTreeMap::new();
    let mut actions: BTreeMap<ActionKey, Arc<ActionSpec>> = BTreeMap::new();
    let mut action_files = BTreeMap::new();
    let mut provider_files = BTreeMap::new();
    let mut broken = false;

    if files.is_empty() {
        problems.push(Problem::new(
            ".",
            "",
            "no spec files found",
            "point --specs at the directory holding provider.json and action specs",
        ));
    }

    for path in &files {
        let rel = relative(root, path);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem::new(
                    &rel,
                    "",
                    format!("cannot read: {e}"),
                    "make the file readable UTF-8 text",
                ));
                broken = true;
                continue;
            }
        };
        let doc: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(Problem::new(
                    &rel,
                    "",
                    format!(
                        "invalid JSON at line {} column {}: {e}",
                        e.line(),
                        e.column()
                    ),
                    "fix the JSON syntax there",
                ));
                broken = true;
                continue;
            }
        };
        let mut schema_ok = true;
        for err in meta.iter_errors(&doc) {
            schema_ok = false;
            problems.push(Problem::new(
                &rel,
                err.instance_path().to_string(),
                err.to_string(),
                fix_for(&err),
            ));
        }
        documents.insert(rel.clone(), doc.clone());
        if !schema_ok {
            broken = true;
            continue;
        }
        match doc.get("kind").and_then(Value::as_str) {
            Some("provider") => match serde_json::from_value::<ProviderSpec>(doc) {
                Ok(p) => {
                    let expected = format!("{}/provider.json", p.provider.as_str());
                    if rel != expected {
                        problems.push(Problem::new(
                            &rel,
                            "/provider",
                            format!("provider spec for '{}' is at {rel}", p.provider),
                            format!("move it to {expected}"),
                        ));
                    }
                    if let Some(prev) = provider_files.insert(p.provider, rel.clone()) {
                        problems.push(Problem::new(
                            &rel,
                            "/provider",
                            format!("second provider spec for '{}' (first: {prev})", p.provider),
                            "keep one provider.json per provider",
                        ));
                    }
                    providers.insert(p.provider, Arc::new(p));
                }
                Err(e) => {
                    broken = true;
                    problems.push(Problem::new(
                        &rel,
                        "",
                        format!("does not match the spec model: {e}"),
                        "align the file with specs/spec.schema.json",
                    ));
                }
            },
            _ => match serde_json::from_value::<ActionSpec>(doc) {
                Ok(a) => {
                    let key = a.key();
                    let expected = format!(
                        "{}/{}/{}/{}.json",
                        a.provider, a.service, a.version, a.action
                    );
                    if rel != expected {
                        problems.push(Problem::new(
                            &rel,
                            "/action",
                            format!("spec of {key} is stored at {rel}"),
                            format!("move it to {expected} (provider/service/version/Action.json)"),
                        ));
                    }
                    if let Some(prev) = action_files.insert(key.clone(), rel.clone()) {
                        problems.push(Problem::new(
                            &rel,
                            "/action",
                            format!("{key} is also specified in {prev}"),
                            "keep one file per action",
                        ));
                    }
                    actions.insert(key, Arc::new(a));
                }
                Err(e) => {
                    broken = true;
                    problems.push(Problem::new(
                        &rel,
                        "",
                        format!("does not match the spec model: {e}"),
                        "align the file with specs/spec.schema.json",
                    ));
                }
            },
        }
    }

    for (provider, p) in &providers {
        check_provider(&provider_files[provider], p, &mut problems);
    }
    for (key, a) in &actions {
        let file = &action_files[key];
        check_action(
            file,
            a,
            providers.get(&a.provider).map(Arc::as_ref),
            &actions,
            &mut problems,
        );
    }
    check_refs(&documents, &mut problems);
    for (key, a) in &actions {
        let file = &action_files[key];
        if let Err(e) = compile_with_documents(&documents, file, &a.response.schema) {
            problems.push(Problem::new(
                file,
                "/response/schema",
                format!("response schema does not compile: {e}"),
                "make it a valid JSON Schema 2020-12",
            ));
        }
    }
    for (provider, p) in &providers {
        let file = &provider_files[provider];
        for (name, schema) in [
            ("success", &p.envelopes.success),
            ("error", &p.envelopes.error),
        ] {
            if let Err(e) = compile_with_documents(&documents, file, schema) {
                problems.push(Problem::new(
                    file,
                    format!("/envelopes/{name}"),
                    format!("envelope schema does not compile: {e}"),
                    "make it a valid JSON Schema 2020-12",
                ));
            }
        }
    }

    if broken {
        return Ok((None, problems));
    }
    let set = SpecSet {
        root: root.to_path_buf(),
        providers,
        actions,
        documents,
        files: action_files,
    };
    Ok((Some(set), problems))
}

fn fix_for(err: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    match err.kind() {
        K::Required { property } => format!("add the required field {property}"),
        K::AdditionalProperties { unexpected } => format!(
            "remove or rename {} (see specs/spec.schema.json for the allowed fields)",
            unexpected.join(", ")
        ),
        K::Enum { options } => format!("use one of {options}"),
        K::Constant { expected_value } => format!("set it to {expected_value}"),
        K::Type { .. } => "give it the type the meta-schema requires".to_string(),
        K::Pattern { pattern } => format!("make it match {pattern}"),
        _ => format!("see the meta-schema at {}", err.schema_path()),
    }
}

pub(super) fn regex_check(pattern: &str) -> Result<(), String> {
    jsonschema::options()
        .build(&serde_json::json!({"type": "string", "pattern": pattern}))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub(super) fn regex_matches(pattern: &str, s: &str) -> bool {
    jsonschema::options()
        .build(&serde_json::json!({"type": "string", "pattern": pattern}))
        .map(|v| v.is_valid(&Value::String(s.to_string())))
        .unwrap_or(false)
}
