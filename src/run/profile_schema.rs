//! Checking a live-target profile against `docs/profile.schema.json` before a run touches
//! anything: every problem names the file, the JSON pointer, what is wrong and the fix, the way
//! `spec lint` reports spec problems. Types are then read by `profile::Profile::load`.
use serde_json::Value;
use std::path::Path;

/// The profile schema (also the documentation of the format).
pub const PROFILE_SCHEMA: &str = include_str!("../../docs/profile.schema.json");

/// One thing wrong with a profile file: the same shape (file, pointer, reason, fix) and the same
/// printed form as a spec lint problem, so both read alike.
pub use crate::spec::Problem as ProfileProblem;

/// Every problem of the profile at `path` (empty: it is valid).
pub fn check(path: &Path) -> Vec<ProfileProblem> {
    let file = path.display().to_string();
    let problem = |pointer: String, message: String, fix: &str| ProfileProblem {
        file: file.clone(),
        pointer,
        message,
        fix: fix.to_string(),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return vec![problem(
                String::new(),
                format!("cannot read it: {e}"),
                "give --profile an existing JSON file (format: docs/profile.schema.json)",
            )]
        }
    };
    let doc: Value = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => {
            return vec![problem(
                String::new(),
                format!("not JSON: {e}"),
                "fix the JSON syntax at that line and column",
            )]
        }
    };
    let schema: Value =
        serde_json::from_str(PROFILE_SCHEMA).expect("the embedded profile schema is JSON");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .expect("the embedded profile schema compiles");
    let mut problems: Vec<ProfileProblem> = validator
        .iter_errors(&doc)
        .map(|err| ProfileProblem {
            file: file.clone(),
            pointer: err.instance_path().to_string(),
            message: err.to_string(),
            fix: fix_for(&err),
        })
        .collect();
    // By pointer, so the output does not depend on the schema's order.
    problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    problems
}

fn fix_for(err: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    match err.kind() {
        K::Required { property } => format!("add the required field {property}"),
        K::AdditionalProperties { unexpected } => format!(
            "remove or rename {} (docs/profile.schema.json lists the fields)",
            unexpected.join(", ")
        ),
        K::Enum { options } => format!("use one of {options}"),
        K::Type { .. } => "give it the type docs/profile.schema.json requires".to_string(),
        _ => format!("see docs/profile.schema.json at {}", err.schema_path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(text: &str) -> Vec<ProfileProblem> {
        let dir = std::env::temp_dir().join(format!("cc-profile-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("profile.json");
        std::fs::write(&path, text).unwrap();
        let problems = check(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        problems
    }

    #[test]
    fn enums_are_enforced_with_pointer_and_fix() {
        let problems = check_text(
            r#"{"region": "ap-guangzhou", "instances": [
                {"service": "cvmx", "id": "ins-1", "os": "linx", "state": "STOPED"}]}"#,
        );
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/instances/0/os",
                "/instances/0/service",
                "/instances/0/state"
            ],
            "{problems:?}"
        );
        let service = &problems[1];
        assert!(service.message.contains("cvmx"), "{service}");
        assert!(service.fix.contains("\"cvm\""), "{service}");
    }

    #[test]
    fn a_valid_profile_has_no_problem() {
        assert_eq!(
            check_text(
                r#"{"region": "cn-hangzhou", "instances": [
                {"service": "ecs", "id": "i-1", "os": "linux", "state": "Stopped"}]}"#
            ),
            []
        );
    }

    #[test]
    fn unreadable_and_broken_files_are_problems_not_panics() {
        let problems = check(Path::new("/nonexistent/cc-profile.json"));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("cannot read it"));
        let problems = check_text("{\"region\": ");
        assert!(problems[0].message.starts_with("not JSON"), "{problems:?}");
    }
}
