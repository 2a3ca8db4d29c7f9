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
    let endpoint = match service_endpoint(runner, key) {
        Ok(Some(e)) => e,
        Ok(None) => return report,
        Err(e) => {
            report.problems.push(e);
            return report;
        }
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

/// Where the service of `key` is reached (`None`: no spec of that action).
fn service_endpoint(runner: &Runner, key: &ActionKey) -> Result<Option<Endpoint>, String> {
    match &runner.target().kind {
        TargetKind::Live { endpoints, .. } => {
            let Some(any) = runner
                .specs()
                .find(key.provider, &key.service, &key.action)
                .into_iter()
                .next()
                .cloned()
            else {
                return Ok(None);
            };
            endpoints.for_action(&any).map(Some)
        }
        TargetKind::Emulator { endpoints } => Ok(Some(endpoints[0].clone())),
    }
}

/// The key pair of the service of `key` named exactly `name`, through its describe fixture
/// (every page): how a run finds a key whose CreateKeyPair answer was lost. `Ok(None)` when
/// the describe lists no such key; an error when no describe call exists or it failed.
pub async fn find_named(
    runner: &Runner,
    key: &ActionKey,
    region: &str,
    name: &str,
) -> Result<Option<Found>, String> {
    let service = format!("{}/{}", key.provider, key.service);
    let endpoint = service_endpoint(runner, key)?.ok_or("no endpoint for the service")?;
    let describe = fixture_in(runner, key, "describe", "key_pair")
        .ok_or_else(|| format!("{service}: no API lists key pairs"))?;
    let bindings = Bindings {
        region: region.to_string(),
        ..Default::default()
    };
    let found = list(runner, &endpoint, &describe, &bindings, &service, name).await?;
    Ok(found.into_iter().find(|f| f.name == name))
}

/// The leak check's confirmation: every key pair whose delete call was answered is looked up
/// through its service's describe fixture (every page); one still listed is a leak after all,
/// one no Describe can look up stays a problem, never a silent success.
pub async fn confirm_deleted(runner: &Runner) {
    let pending = runner
        .ledger
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unconfirmed();
    let mut by_service: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (id, service, name) in pending {
        by_service.entry(service).or_default().push((id, name));
    }
    for (service, keys) in by_service {
        let listed = listed_keys(runner, &service).await;
        let mut ledger = runner.ledger.lock().unwrap_or_else(|e| e.into_inner());
        for (id, name) in keys {
            match &listed {
                Ok(all) if all.iter().any(|f| f.id == id || f.name == name) => {
                    ledger.still_listed(&id)
                }
                Ok(_) => ledger.confirmed_gone(&id),
                Err(e) => {
                    ledger.confirmed_gone(&id);
                    ledger.problem(
                        &service,
                        "key_pair",
                        &id,
                        &format!("`{name}`: deletion not confirmed by a Describe: {e}"),
                    );
                }
            }
        }
    }
}

/// Every key pair of a service (`tencent/cvm`) in the run's region for it.
async fn listed_keys(runner: &Runner, service: &str) -> Result<Vec<Found>, String> {
    let key = runner
        .specs()
        .actions()
        .find(|a| format!("{}/{}", a.provider, a.service) == service)
        .map(|a| a.key())
        .ok_or_else(|| format!("no spec for {service}"))?;
    let region = match &runner.target().kind {
        TargetKind::Live { profile, .. } => profile
            .for_provider(key.provider)
            .region_for(key.provider)
            .to_string(),
        TargetKind::Emulator { .. } => String::new(),
    };
    let endpoint = service_endpoint(runner, &key)?.ok_or("no endpoint for the service")?;
    let describe = fixture_in(runner, &key, "describe", "key_pair")
        .ok_or_else(|| format!("{service}: no API lists key pairs"))?;
    let bindings = Bindings {
        region,
        ..Default::default()
    };
    list(runner, &endpoint, &describe, &bindings, service, "").await
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
