//! Loading and linting a spec directory: JSON syntax, the meta-schema, then cross-references.
//!
//! Every problem names the file (relative to the spec root), a JSON pointer into it, what is
//! wrong and what to change, so `cloudconform spec lint` output can be acted on directly.
use super::model::*;
use super::{SpecError, SpecSet};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The meta-schema every spec file is validated against (also kept at `specs/spec.schema.json`).
pub const META_SCHEMA: &str = include_str!("../../specs/spec.schema.json");
pub const DEFAULT_SPECS_DIR_NAME: &str = "specs";
/// Made-up base URI for spec documents, so `$ref` resolution never touches the network and no
/// machine path appears in an error.
const BASE: &str = "https://cloudconform.invalid/specs/";

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
    fn new(
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

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
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
    collect_files(root, root, &mut files).map_err(|source| SpecError::Io {
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

fn check_provider(file: &str, p: &ProviderSpec, problems: &mut Vec<Problem>) {
    let signing: BTreeSet<&str> = p.signing.iter().map(|s| s.id.as_str()).collect();
    for (i, style) in p.request_styles.iter().enumerate() {
        for (j, s) in style.signing.iter().enumerate() {
            if !signing.contains(s.as_str()) {
                problems.push(Problem::new(
                    file,
                    format!("/request_styles/{i}/signing/{j}"),
                    format!("unknown signing method '{s}'"),
                    format!("use one of {signing:?}"),
                ));
            }
        }
    }
    let styles: BTreeSet<&str> = p.request_styles.iter().map(|s| s.id.as_str()).collect();
    for (i, l) in p.size_limits.iter().enumerate() {
        if !styles.contains(l.request_style.as_str()) {
            problems.push(Problem::new(
                file,
                format!("/size_limits/{i}/request_style"),
                format!("unknown request style '{}'", l.request_style),
                format!("use one of {styles:?}"),
            ));
        }
    }
    for (name, f) in &p.formats {
        if let Err(e) = regex_check(&f.pattern) {
            problems.push(Problem::new(
                file,
                format!("/formats/{name}/pattern"),
                format!("invalid regex: {e}"),
                "write a valid regular expression",
            ));
            continue;
        }
        for (i, ex) in f.examples.iter().enumerate() {
            if !regex_matches(&f.pattern, ex) && !ex.contains('*') {
                problems.push(Problem::new(
                    file,
                    format!("/formats/{name}/examples/{i}"),
                    format!("example '{ex}' does not match the pattern {}", f.pattern),
                    "fix the pattern or the example (masked doc examples with * are exempt)",
                ));
            }
        }
    }
    check_errors(
        file,
        &p.errors,
        &mut |_, t, ptr, problems| {
            if let Trigger::Parameter { parameter, .. } = t {
                if parameter != "*" {
                    problems.push(Problem::new(
                        file,
                        ptr.clone(),
                        format!("provider-wide trigger names parameter '{parameter}'"),
                        "use '*' in provider specs; name parameters in action specs",
                    ));
                }
            }
            if matches!(t, Trigger::Precondition { .. } | Trigger::OneOf { .. }) {
                problems.push(Problem::new(
                    file,
                    ptr,
                    "provider-wide triggers can only be protocol or parameter '*' triggers",
                    "move it to the action spec",
                ));
            }
        },
        problems,
    );
}

type TriggerCheck<'a> = dyn FnMut(&ErrorCode, &Trigger, String, &mut Vec<Problem>) + 'a;

fn check_errors(
    file: &str,
    errors: &[ErrorCode],
    check: &mut TriggerCheck<'_>,
    problems: &mut Vec<Problem>,
) {
    let mut seen = BTreeSet::new();
    for (i, e) in errors.iter().enumerate() {
        if !seen.insert(e.code.as_str()) {
            problems.push(Problem::new(
                file,
                format!("/errors/{i}/code"),
                format!("error code '{}' listed twice", e.code),
                "merge the two entries",
            ));
        }
        for (j, t) in e.triggers.iter().enumerate() {
            check(e, t, format!("/errors/{i}/triggers/{j}"), problems);
        }
    }
}

fn check_action(
    file: &str,
    a: &ActionSpec,
    provider: Option<&ProviderSpec>,
    actions: &BTreeMap<ActionKey, Arc<ActionSpec>>,
    problems: &mut Vec<Problem>,
) {
    let Some(provider) = provider else {
        problems.push(Problem::new(
            file,
            "/provider",
            format!("no provider spec for '{}'", a.provider),
            format!("add specs/{}/provider.json", a.provider),
        ));
        return;
    };
    let params: BTreeSet<&str> = a.parameters.iter().map(|p| p.name.as_str()).collect();
    let param_ref = |name: &str, ptr: String, problems: &mut Vec<Problem>| {
        if !params.contains(name) {
            problems.push(Problem::new(
                file,
                ptr,
                format!("names unknown parameter '{name}'"),
                format!("use one of {params:?} or declare the parameter"),
            ));
        }
    };
    let mut seen = BTreeSet::new();
    for (i, p) in a.parameters.iter().enumerate() {
        if !seen.insert(p.name.as_str()) {
            problems.push(Problem::new(
                file,
                format!("/parameters/{i}/name"),
                format!("parameter '{}' declared twice", p.name),
                "merge the two entries",
            ));
        }
        if let Some(f) = p.value_format() {
            if !provider.formats.contains_key(f) {
                let ptr = if p.ty == ParamType::Array {
                    format!("/parameters/{i}/items/format")
                } else {
                    format!("/parameters/{i}/format")
                };
                problems.push(Problem::new(
                    file,
                    ptr,
                    format!("unknown format '{f}'"),
                    format!(
                        "define it under formats in specs/{}/provider.json or use one of {:?}",
                        a.provider,
                        provider.formats.keys().collect::<Vec<_>>()
                    ),
                ));
            }
        }
        if let Some(r) = &p.references {
            if !provider.resources.contains_key(&r.resource) {
                problems.push(Problem::new(
                    file,
                    format!("/parameters/{i}/references/resource"),
                    format!("unknown resource '{}'", r.resource),
                    format!(
                        "use one of {:?}",
                        provider.resources.keys().collect::<Vec<_>>()
                    ),
                ));
            }
        }
        if let (Some(min), Some(max)) = (p.min_items, p.max_items) {
            if min > max {
                problems.push(Problem::new(
                    file,
                    format!("/parameters/{i}/min_items"),
                    format!("min_items {min} exceeds max_items {max}"),
                    "swap or correct the limits",
                ));
            }
        }
    }
    let styles: BTreeSet<&str> = provider
        .request_styles
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    for (i, s) in a.request_styles.iter().enumerate() {
        if !styles.contains(s.as_str()) {
            problems.push(Problem::new(
                file,
                format!("/request_styles/{i}"),
                format!("unknown request style '{s}'"),
                format!("use one of {styles:?}"),
            ));
        }
    }
    let groups: BTreeSet<&str> = a.one_of.iter().map(|g| g.id.as_str()).collect();
    for (i, g) in a.one_of.iter().enumerate() {
        for (j, p) in g.parameters.iter().enumerate() {
            param_ref(p, format!("/one_of/{i}/parameters/{j}"), problems);
        }
    }
    let preconditions: BTreeSet<&str> = a.preconditions.iter().map(|p| p.id.as_str()).collect();
    for (i, pc) in a.preconditions.iter().enumerate() {
        if let Some(p) = pc.subject.parameter() {
            param_ref(p, format!("/preconditions/{i}/subject/parameter"), problems);
        }
        if let Some(u) = &pc.unless {
            param_ref(
                &u.parameter,
                format!("/preconditions/{i}/unless/parameter"),
                problems,
            );
        }
        if let Requirement::BoundTo { parameter } = &pc.require {
            param_ref(
                parameter,
                format!("/preconditions/{i}/require/bound_to/parameter"),
                problems,
            );
        }
        if pc.scope == Scope::Request && !a.errors.iter().any(|e| e.triggers.iter().any(|t| matches!(t, Trigger::Precondition { precondition, .. } if precondition == &pc.id))) {
            problems.push(Problem::new(file, format!("/preconditions/{i}"), format!("no error code is triggered by precondition '{}'", pc.id), "add a trigger {\"on\": \"precondition\", ...} to the error it provokes, or make it per_item"));
        }
    }
    for (i, e) in a.effects.iter().enumerate() {
        for (name, s) in [
            ("keys", &e.keys),
            ("instances", &e.instances),
            ("target", &e.target),
        ] {
            if let Some(p) = s.as_ref().and_then(Subject::parameter) {
                param_ref(p, format!("/effects/{i}/{name}/parameter"), problems);
            }
        }
        if let Some(w) = &e.when {
            param_ref(
                &w.parameter,
                format!("/effects/{i}/when/parameter"),
                problems,
            );
        }
        if let Some(Observe::Action { action, .. }) = &e.observe {
            let key = ActionKey::new(a.provider, &a.service, &a.version, action);
            match actions.get(&key) {
                Some(f) if f.role == Role::Fixture => {}
                Some(_) => problems.push(Problem::new(
                    file,
                    format!("/effects/{i}/observe/action"),
                    format!("{key} is not a fixture action"),
                    "observe effects through a fixture action",
                )),
                None => problems.push(Problem::new(
                    file,
                    format!("/effects/{i}/observe/action"),
                    format!("no spec for {key}"),
                    format!("add specs/{key}.json with role fixture"),
                )),
            }
        }
    }
    if let Some(b) = &a.response.batch {
        if let Some(over) = &b.over {
            param_ref(over, "/response/batch/over".to_string(), problems);
        }
    }
    check_errors(
        file,
        &a.errors,
        &mut |e, t, ptr, problems| match t {
            Trigger::Parameter {
                parameter,
                violation,
                ..
            } => {
                let Some(p) = a.parameter(parameter) else {
                    param_ref(parameter, format!("{ptr}/parameter"), problems);
                    return;
                };
                let possible = match violation {
                    Violation::TooMany => p.max_items.is_some(),
                    Violation::TooFew => p.ty == ParamType::Array,
                    Violation::Missing => p.required,
                    Violation::Format => p.value_format().is_some() || p.references.is_some(),
                    Violation::MalformedJson => p.encoding == Some(ParamEncoding::JsonString),
                    Violation::Duplicate => p.ty == ParamType::Array,
                    Violation::Enum => !p.allowed.is_empty(),
                    Violation::TooLong => {
                        p.max_length.is_some()
                            || p.items.as_ref().is_some_and(|i| i.max_length.is_some())
                            || p.value_format().is_some()
                    }
                    Violation::TooShort => {
                        p.min_length.is_some()
                            || p.items.as_ref().is_some_and(|i| i.min_length.is_some())
                            || p.value_format().is_some()
                    }
                    Violation::OutOfRange => p.minimum.is_some() || p.maximum.is_some(),
                    Violation::Type | Violation::Empty => true,
                };
                if !possible {
                    problems.push(Problem::new(
                        file,
                        format!("{ptr}/violation"),
                        format!(
                            "'{}' cannot happen to parameter '{parameter}' as declared (error {})",
                            violation.as_str(),
                            e.code
                        ),
                        "declare the constraint on the parameter or drop the trigger",
                    ));
                }
            }
            Trigger::OneOf { group, .. } => {
                if !groups.contains(group.as_str()) {
                    problems.push(Problem::new(
                        file,
                        format!("{ptr}/group"),
                        format!("unknown one_of group '{group}'"),
                        format!("use one of {groups:?}"),
                    ));
                }
            }
            Trigger::Precondition { precondition, .. } => {
                if !preconditions.contains(precondition.as_str()) {
                    problems.push(Problem::new(
                        file,
                        format!("{ptr}/precondition"),
                        format!("unknown precondition '{precondition}'"),
                        format!("use one of {preconditions:?}"),
                    ));
                }
            }
            Trigger::Protocol { .. } => {}
        },
        problems,
    );
}

/// Every `$ref` in every document must resolve to an existing file and pointer.
fn check_refs(documents: &BTreeMap<String, Value>, problems: &mut Vec<Problem>) {
    for (file, doc) in documents {
        let mut refs = Vec::new();
        collect_refs(doc, String::new(), &mut refs);
        for (ptr, target) in refs {
            if let Err(reason) = resolve_ref(documents, file, &target) {
                problems.push(Problem::new(
                    file,
                    ptr,
                    format!("$ref '{target}' does not resolve: {reason}"),
                    "point it at an existing file (relative to this one) and JSON pointer",
                ));
            }
        }
    }
}

fn collect_refs(v: &Value, ptr: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let child_ptr = format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1"));
                if k == "$ref" {
                    if let Value::String(s) = child {
                        out.push((child_ptr, s.clone()));
                        continue;
                    }
                }
                // Examples hold provider data, not schemas.
                if k == "examples" || k == "example" {
                    continue;
                }
                collect_refs(child, child_ptr, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, format!("{ptr}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn resolve_ref(
    documents: &BTreeMap<String, Value>,
    file: &str,
    target: &str,
) -> Result<(), String> {
    let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
    let doc_name = if path.is_empty() {
        file.to_string()
    } else {
        join_relative(file, path)?
    };
    let doc = documents
        .get(&doc_name)
        .ok_or_else(|| format!("no spec file {doc_name}"))?;
    if fragment.is_empty() {
        return Ok(());
    }
    if !fragment.starts_with('/') {
        return Err(format!("fragment '#{fragment}' is not a JSON pointer"));
    }
    doc.pointer(fragment)
        .map(|_| ())
        .ok_or_else(|| format!("{doc_name} has nothing at {fragment}"))
}

fn join_relative(file: &str, rel: &str) -> Result<String, String> {
    if rel.contains("://") {
        return Err("remote references are not allowed; use a path relative to this file".into());
    }
    let mut parts: Vec<&str> = file.split('/').collect();
    parts.pop();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("climbs above the spec root".into());
                }
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

pub(super) fn compile_with_documents(
    documents: &BTreeMap<String, Value>,
    file: &str,
    schema: &Value,
) -> Result<jsonschema::Validator, String> {
    // A spec file's own "$schema" names the spec meta-schema, not a JSON Schema dialect; the
    // schemas embedded in it are 2020-12.
    let resources = documents.iter().map(|(name, doc)| {
        let mut doc = doc.clone();
        if let Some(map) = doc.as_object_mut() {
            map.insert(
                "$schema".into(),
                Value::String("https://json-schema.org/draft/2020-12/schema".into()),
            );
        }
        (
            format!("{BASE}{name}"),
            jsonschema::Resource::from_contents(doc),
        )
    });
    let registry = jsonschema::Registry::new()
        .extend(resources)
        .map_err(|e| e.to_string())?
        .prepare()
        .map_err(|e| e.to_string())?;
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_registry(&registry)
        .with_base_uri(format!("{BASE}{file}"))
        .build(schema)
        .map_err(|e| e.to_string())
}

fn regex_check(pattern: &str) -> Result<(), String> {
    jsonschema::options()
        .build(&serde_json::json!({"type": "string", "pattern": pattern}))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn regex_matches(pattern: &str, s: &str) -> bool {
    jsonschema::options()
        .build(&serde_json::json!({"type": "string", "pattern": pattern}))
        .map(|v| v.is_valid(&Value::String(s.to_string())))
        .unwrap_or(false)
}
