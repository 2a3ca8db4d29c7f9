//! `cloudconform cleanup`: find key pairs a run left behind — by the profile's `key_prefix`,
//! never anything else — through each service's describe fixture (every page its spec's
//! `paging` describes), and delete them
//! through its delete fixture within the documented batch limit. Services whose keys no API
//! deletes (ECM) are reported, not touched.
use super::bind::{Bindings, Bound};
use super::exec::Endpoint;
use super::fixture_calls::{call, call_pages, fixture_in};
use super::{Runner, TargetKind};
use crate::check::effects::{flatten, select};
use crate::spec::ActionKey;

use std::collections::BTreeMap;

/// A key pair found by prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `tencent/cvm`.
    pub service: String,
    pub id: String,
    pub name: String,
}

/// The outcome for one service.
#[derive(Debug, Default)]
pub struct ServiceReport {
    pub found: Vec<Found>,
    pub deleted: Vec<Found>,
    pub problems: Vec<String>,
}

/// Every key pair of one service whose name starts with `prefix`; deleted too when `delete`.
pub async fn sweep(
    runner: &Runner,
    key: &ActionKey,
    region: &str,
    prefix: &str,
    delete: bool,
) -> ServiceReport {
    let mut report = ServiceReport::default();
    let service = format!("{}/{}", key.provider, key.service);
    let endpoint = match &runner.target().kind {
        TargetKind::Live { endpoints, .. } => {
            let Some(any) = runner
                .specs()
                .find(key.provider, &key.service, &key.action)
                .into_iter()
                .next()
                .cloned()
            else {
                return report;
            };
            match endpoints.for_action(&any) {
                Ok(e) => e,
                Err(e) => {
                    report.problems.push(e);
                    return report;
                }
            }
        }
        TargetKind::Emulator { endpoints } => endpoints[0].clone(),
    };
    let bindings = Bindings {
        region: region.to_string(),
        ..Default::default()
    };
    let Some(describe) = fixture_in(runner, key, "describe", "key_pair") else {
        return report;
    };
    report.found = match list(runner, &endpoint, &describe, &bindings, &service, prefix).await {
        Ok(f) => f,
        Err(e) => {
            report.problems.push(e);
            return report;
        }
    };
    if !delete || report.found.is_empty() {
        return report;
    }
    let Some(remove) = fixture_in(runner, key, "delete", "key_pair") else {
        report.problems.push(format!(
            "{service}: no API deletes key pairs; {} left as they are",
            report.found.len()
        ));
        return report;
    };
    let batch = remove.batch_limit("key_pair");
    for chunk in report.found.clone().chunks(batch) {
        let mut b = bindings.clone();
        let syms: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(n, f)| {
                let sym = format!("leftover{n}");
                b.objects.insert(
                    sym.clone(),
                    Bound {
                        id: f.id.clone(),
                        name: f.name.clone(),
                    },
                );
                sym
            })
            .collect();
        let given = BTreeMap::from([("key_pair".to_string(), syms)]);
        match call(runner, &endpoint, &remove, &given, &[], &b).await {
            Ok(_) => report.deleted.extend(chunk.iter().cloned()),
            Err(e) => report.problems.push(e),
        }
    }
    report
}

async fn list(
    runner: &Runner,
    endpoint: &Endpoint,
    describe: &crate::spec::ActionSpec,
    bindings: &Bindings,
    service: &str,
    prefix: &str,
) -> Result<Vec<Found>, String> {
    let names_at = describe
        .response
        .outputs
        .get("each_key_name")
        .ok_or_else(|| format!("{}: the spec has no each_key_name output", describe.action))?;
    let ids_at = describe.response.outputs.get("each_key_id");
    let mut found = Vec::new();
    let vars = BTreeMap::new();
    // Every page, as the describe spec's `paging` says.
    let pages = call_pages(runner, endpoint, describe, &BTreeMap::new(), &[], bindings).await?;
    for body in &pages {
        let names = flatten(&select(body, names_at, &vars));
        let ids = ids_at
            .map(|p| flatten(&select(body, p, &vars)))
            .unwrap_or_else(|| names.clone());
        for (name, id) in names.iter().zip(ids.iter()) {
            if name.starts_with(prefix) {
                found.push(Found {
                    service: service.to_string(),
                    id: id.clone(),
                    name: name.clone(),
                });
            }
        }
    }
    Ok(found)
}
