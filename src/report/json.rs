//! The JSON report: the whole run, results with verdicts, findings and scrubbed exchanges.
use super::RunReport;

pub fn render(report: &RunReport) -> Result<String, String> {
    serde_json::to_string_pretty(report).map_err(|e| e.to_string())
}
