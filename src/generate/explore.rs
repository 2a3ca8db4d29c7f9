//! Exploration (being built).
use super::{Case, GenerateError};
use crate::run::{CaseResult, Runner};
use crate::spec::SpecSet;
use std::path::Path;
use std::sync::Arc;

pub fn random_cases(_specs: &SpecSet, _n: usize, _seed: u64) -> Result<Vec<Case>, GenerateError> {
    Ok(Vec::new())
}

pub async fn shrink_failures(
    _runner: &Arc<Runner>,
    _cases: &[Case],
    results: Vec<CaseResult>,
    _dir: &Path,
) -> Vec<CaseResult> {
    results
}
