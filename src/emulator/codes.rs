//! Which error code answers a [`Violation`], read from the specs: the action's own codes whose
//! trigger matches first, then the provider's common ones (`*` parameter triggers). When a spec
//! lists several codes for one trigger (a listed and a live-observed spelling), the configured
//! preference wins, then a code the caller suggests (the verifier's), then the first listed.
use super::envelope::ErrorReply;
use super::validate::{fallbacks, Violation};
use crate::spec::{
    code_matches, trigger_matches, ActionSpec, ErrorCode, ProviderSpec, Trigger, Violation as V,
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

    /// The reply for `violation`. `hint` is a code, status and message another component chose
    /// (the verifier); it answers when the spec has no code for the trigger, and its message is
    /// kept when the spec lists its code.
    pub fn reply(&self, violation: &Violation, hint: Option<(&str, u16, &str)>) -> ErrorReply {
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
                hint.and_then(|(h, _, _)| {
                    candidates
                        .iter()
                        .find(|c| code_matches(&c.code, h))
                        .map(|c| (*c, h.to_string()))
                })
            })
            .or_else(|| candidates.first().map(|c| (*c, c.code.clone())));
        let slot = self.slot(&violation.trigger);
        let Some((error, code)) = chosen else {
            return match hint {
                Some((code, status, message)) => ErrorReply {
                    code: code.to_string(),
                    message: message.to_string(),
                    http_status: status,
                },
                None => ErrorReply {
                    // No spec lists a code for this fault: the generic parameter error.
                    code: "InvalidParameter".into(),
                    message: violation.detail.clone(),
                    http_status: 400,
                },
            };
        };
        let slot_text = slot.clone().unwrap_or_else(|| violation.detail.clone());
        let code = if code.contains("%s") {
            code.replace("%s", slot.as_deref().unwrap_or("Parameter"))
        } else {
            code
        };
        let message = match (hint, &error.message) {
            (Some((h, _, m)), _) if h == code => m.to_string(),
            (_, Some(documented)) => {
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
                text
            }
            (_, None) if !violation.detail.is_empty() => violation.detail.clone(),
            (_, None) => error.description.clone(),
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
