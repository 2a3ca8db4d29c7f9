//! `$ref` resolution between spec files, and compiling embedded schemas against every loaded
//! document under a made-up base URI (offline, and no machine path in an error).
use super::lint::Problem;
use serde_json::Value;
use std::collections::BTreeMap;

/// Made-up base URI for spec documents.
const BASE: &str = "https://cloudconform.invalid/specs/";

/// Every `$ref` in every document must resolve to an existing file and pointer.
pub(super) fn check_refs(documents: &BTreeMap<String, Value>, problems: &mut Vec<Problem>) {
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

pub(crate) fn compile_with_documents(
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
