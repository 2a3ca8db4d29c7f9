//! Running one step of a case: send it, record the exchange, check the answer against the
//! step's expectation, bind what it captures for later steps, and observe each declared effect
//! (`observe`).
use super::bind::{Bindings, Bound};
use super::exec::Endpoint;
use super::{control_world, CaseResult, Exchange, RequestRecord, ResponseRecord, Runner, Sent};
use crate::check::Finding;
use crate::generate::{Case, Expect, Step};
use serde_json::Value;

impl Runner {
    /// Send one step (with its fault, retries and replay), check it and its effects.
    pub(super) async fn run_step(
        &self,
        case: &Case,
        n: usize,
        step: &Step,
        endpoint: &Endpoint,
        bindings: &mut Bindings,
        result: &mut CaseResult,
    ) -> Result<Vec<Finding>, String> {
        let action = self
            .step_action(case, step)
            .ok_or_else(|| format!("no spec for step action {}", step.action))?;
        let accounts = control_world::accounts(self, endpoint).await;
        let creds = self.credentials_for(case.action.provider, step.caller, &accounts);
        let sent = {
            let _gate = self.control.gate.read().await;
            self.send_step(&action, step, endpoint, bindings, &creds)
                .await
        };
        let (req, resp) = match sent {
            Sent::Ok(req, resp) => (req, resp),
            Sent::Transport(e) => return Err(e),
            Sent::Build(e) => return Err(format!("could not build the request: {e}")),
        };
        // The body is parsed once, for the record, the checks and the captures alike.
        let parsed = serde_json::from_slice::<Value>(&resp.body);
        result.exchanges.push(Exchange {
            step: n,
            action: step.action.clone(),
            request: RequestRecord::scrubbed(req),
            response: Some(ResponseRecord::of(&resp, parsed.as_ref().ok())),
        });
        let resp = &*result.last_response.insert(resp);
        let mut findings =
            self.checker
                .check_parsed(&action, &step.expect, resp, parsed.as_ref(), bindings);
        let body = parsed.as_ref().unwrap_or(&Value::Null);
        // An error the expectation also allows (`or_error`) has no effects to observe.
        let answered_error = self.checker.is_error(action.provider, resp.status, body);
        if findings.is_empty() && !answered_error {
            if let Expect::Success {
                effects, capture, ..
            } = &step.expect
            {
                // `k1` captures an id, `k1.name` a name: both bind the symbol for later steps
                // (and for effect checks), like a world object.
                for (sym, pointer) in capture {
                    let Some(v) = pointer.as_str().and_then(|p| crate::check::at(body, p)) else {
                        return Ok(vec![Finding {
                            evidence: Default::default(),
                            source: String::new(),
                            rule: format!("{}#{}", case.id, "/steps"),
                            location: pointer.as_str().unwrap_or_default().to_string(),
                            message: format!("nothing to capture as {sym}"),
                        }]);
                    };
                    let v = crate::check::loose(v);
                    let (base, is_name) = match sym.strip_suffix(".name") {
                        Some(b) => (b.to_string(), true),
                        None => (sym.clone(), false),
                    };
                    let slot = bindings.objects.entry(base).or_insert_with(|| Bound {
                        id: v.clone(),
                        name: v.clone(),
                    });
                    if is_name {
                        slot.name = v;
                    } else {
                        slot.id = v;
                    }
                }
                for id in effects {
                    if let Some(f) = self
                        .observe_effect(case, &action, step, id, endpoint, bindings, &creds)
                        .await?
                    {
                        findings.push(f);
                    }
                }
            }
        }
        Ok(findings)
    }
}

/// Symbols named by placeholders in a parameter value (`${i1}`, `${k1.name}`).
pub fn placeholder_syms(v: &Value) -> Vec<String> {
    let strings: Vec<&str> = match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    // Batch values name up to 100 symbols: a set keeps the dedup linear.
    let mut seen = std::collections::HashSet::new();
    for s in strings {
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else { break };
            let key = &after[..end];
            let sym = key.split('.').next().unwrap_or(key);
            if sym != "region" && seen.insert(sym) {
                out.push(sym.to_string());
            }
            rest = &after[end + 1..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::placeholder_syms;
    use serde_json::json;

    #[test]
    fn symbols_in_first_appearance_order_once_each_without_region() {
        let v = json!([
            "${k2}",
            "${i1.name}-${k2.name}",
            "${region}",
            7,
            "plain",
            "${k1}",
            "${bad"
        ]);
        assert_eq!(placeholder_syms(&v), ["k2", "i1", "k1"]);
        assert_eq!(placeholder_syms(&json!("${i3}/${i3}")), ["i3"]);
        assert!(placeholder_syms(&json!(5)).is_empty());
    }
}
