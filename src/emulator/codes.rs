//! Which error code answers a [`Violation`], read from the specs: the action's own codes whose
//! trigger matches first, then the provider's common ones (`*` parameter triggers). When a spec
//! lists several codes for one trigger (a listed and a live-observed spelling, or the answers a
//! `discrepancies` entry allows), the configured preference wins, then the discrepancy's first
//! alternative, then the first listed.
use super::envelope::ErrorReply;
use super::validate::{fallbacks, Violation};
use crate::spec::{
    code_matches, settled, trigger_matches, ActionSpec, ErrorCode, ProviderSpec, Trigger,
    Violation as V,
};

pub struct Resolver<'a> {
    pub provider: &'a ProviderSpec,
    pub action: Option<&'a ActionSpec>,
    /// Codes to pick when a trigger has several (`EmulatorConfig::preferred_codes`).
    pub preferred: &'a [String],
}

impl<'a> Resolver<'a> {
    fn matching(&self, errors: &'a [ErrorCode], trigger: &Trigger) -> Vec<&'a ErrorCode> {
        errors
            .iter()
            .filter(|e| e.triggers.iter().any(|t| trigger_matches(t, trigger, true)))
            .collect()
    }

    /// Every code that answers `trigger` (own before provider-wide; for parameter faults, when
    /// neither lists the exact violation, the more general readings of [`fallbacks`]).
    pub fn candidates(&self, trigger: &Trigger) -> Vec<&'a ErrorCode> {
        let own: &'a [ErrorCode] = self.action.map(|a| a.errors.as_slice()).unwrap_or(&[]);
        let common: &'a [ErrorCode] = &self.provider.errors;
        match trigger {
            Trigger::Parameter {
                parameter,
                violation,
                ..
            } => {
                let with = |v: V| Trigger::Parameter {
                    parameter: parameter.clone(),
                    violation: v,
                    note: None,
                    evidence: None,
                };
                // The exact fault first (the action's code, else the provider's generic one),
                // then more general readings of it.
                for v in fallbacks(*violation) {
                    for errors in [own, common] {
                        let found = self.matching(errors, &with(*v));
                        if !found.is_empty() {
                            return found;
                        }
                    }
                }
                self.matching(common, &with(V::Type))
            }
            _ => {
                let found = self.matching(own, trigger);
                if found.is_empty() {
                    self.matching(common, trigger)
                } else {
                    found
                }
            }
        }
    }

    fn slot(&self, trigger: &Trigger) -> Option<String> {
        match trigger {
            Trigger::Parameter { parameter, .. } => Some(parameter.clone()),
            Trigger::OneOf { group, .. } => self
                .action
                .and_then(|a| a.one_of.iter().find(|g| &g.id == group))
                .and_then(|g| g.parameters.first().cloned()),
            Trigger::Precondition { precondition, .. } => self
                .action
                .and_then(|a| a.precondition(precondition))
                .and_then(|p| p.subject.parameter().map(str::to_string)),
            Trigger::Protocol { .. } => None,
        }
    }

    /// The code a discrepancy settled for a protocol condition the docs leave open, the
    /// action's discrepancies before the provider's.
    fn settled(&self, trigger: &Trigger) -> Option<&'a str> {
        let own = self
            .action
            .map(|a| a.discrepancies.as_slice())
            .unwrap_or(&[]);
        settled(own.iter().chain(&self.provider.discrepancies), trigger)
    }

    /// The reply for `violation`: the configured preference among the codes that answer it,
    /// else the code a discrepancy settled, else the first listed.
    pub fn reply(&self, violation: &Violation) -> ErrorReply {
        let candidates = self.candidates(&violation.trigger);
        let chosen = self
            .preferred
            .iter()
            .find_map(|p| {
                candidates
                    .iter()
                    .find(|c| code_matches(&c.code, p))
                    .map(|c| (*c, p.clone()))
            })
            .or_else(|| {
                let settled = self.settled(&violation.trigger)?;
                candidates
                    .iter()
                    .find(|c| c.code == settled)
                    .map(|c| (*c, c.code.clone()))
            })
            .or_else(|| candidates.first().map(|c| (*c, c.code.clone())))
            .or_else(|| {
                // No spec lists a code for this fault: the provider's generic parameter error.
                let generic = Trigger::Parameter {
                    parameter: "*".into(),
                    violation: V::Type,
                    note: None,
                    evidence: None,
                };
                let found = self.matching(&self.provider.errors, &generic);
                found.first().map(|c| (*c, c.code.clone()))
            });
        let slot = self.slot(&violation.trigger);
        let Some((error, code)) = chosen else {
            // Not even that (a provider spec without one): a plain client error.
            return ErrorReply {
                code: "InvalidParameter".into(),
                message: violation.detail.clone(),
                http_status: 400,
            };
        };
        let slot_text = slot.clone().unwrap_or_else(|| violation.detail.clone());
        let code = if code.contains("%s") {
            code.replace("%s", slot.as_deref().unwrap_or("Parameter"))
        } else {
            code
        };
        let message = match &error.message {
            Some(documented) => {
                let mut text = documented
                    .replace("<StringToSign>", &violation.detail)
                    .replace("<Name>", &slot_text)
                    .replace("%s", &slot_text);
                // A message documented for one parameter ("The input parameter \"RegionId\"
                // … is not supplied") names the parameter at fault instead.
                if let (Some(slot), Some(action), Trigger::Parameter { .. }) =
                    (&slot, self.action, &violation.trigger)
                {
                    for p in action.parameters.iter().filter(|p| &p.name != slot) {
                        text = text.replace(&format!("\"{}\"", p.name), &format!("\"{slot}\""));
                    }
                }
                // A generic message ("The specified parameter is not valid.") says which
                // parameter and why through the detail.
                if let (Some(slot), Trigger::Parameter { .. }) = (&slot, &violation.trigger) {
                    if !text.contains(slot.as_str()) && !violation.detail.is_empty() {
                        text = format!("{} {}", text.trim_end(), violation.detail);
                    }
                }
                text
            }
            None if !violation.detail.is_empty() => violation.detail.clone(),
            None => error.description.clone(),
        };
        ErrorReply {
            code,
            message,
            http_status: error.http_status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::code_matches;

    #[test]
    fn templates() {
        assert!(code_matches("Missing%s", "MissingSecurityToken"));
        assert!(code_matches(
            "InvalidParameter.%s",
            "InvalidParameter.KeyPairId"
        ));
        assert!(!code_matches("InvalidParameter.%s", "InvalidParameter"));
        assert!(code_matches("NoPermission", "NoPermission"));
    }
}
