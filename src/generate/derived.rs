//! What generation and the runner derive from a [`SpecSet`], computed once per set and shared by
//! reference: every provider's compiled formats (a compiled `Regex` keeps its matcher cache, so
//! it is never cloned or rebuilt per case), and per provider service the format of each
//! resource's id and name.
use super::values::FormatInfo;
use crate::spec::{ActionSpec, Provider, RefBy, SpecSet};
use std::collections::BTreeMap;

/// Resources whose id or name formats worlds are built from.
const RESOURCES: [(&str, RefBy); 4] = [
    ("key_pair", RefBy::Id),
    ("key_pair", RefBy::Name),
    ("instance", RefBy::Id),
    ("image", RefBy::Id),
];

/// The format names a service's resource id or name takes: from the first parameter of the
/// service that refers to it (`referenced`), else from the provider's format names (`named`).
#[derive(Debug, Default)]
struct ServiceFormats {
    referenced: Vec<((String, RefBy), String)>,
    named: Vec<((String, RefBy), String)>,
}

/// Formats compiled once per [`SpecSet`].
#[derive(Debug, Default)]
pub struct Derived {
    formats: BTreeMap<Provider, BTreeMap<String, FormatInfo>>,
    services: BTreeMap<Provider, BTreeMap<String, ServiceFormats>>,
}

impl Derived {
    pub fn new(specs: &SpecSet) -> Derived {
        let mut d = Derived::default();
        for p in specs.providers() {
            let compiled = p
                .formats
                .iter()
                .map(|(n, f)| (n.clone(), FormatInfo::new(n, f)))
                .collect();
            d.formats.insert(p.provider, compiled);
        }
        for a in specs.actions() {
            let svc = d
                .services
                .entry(a.provider)
                .or_default()
                .entry(a.service.clone())
                .or_default();
            // Key order: the first action (and parameter) that names a format wins, as a
            // scan of the service's parameters would find it.
            for p in &a.parameters {
                let (Some(r), Some(f)) = (&p.references, p.value_format()) else {
                    continue;
                };
                if !svc
                    .referenced
                    .iter()
                    .any(|((x, b), _)| *x == r.resource && *b == r.by)
                {
                    svc.referenced
                        .push(((r.resource.clone(), r.by), f.to_string()));
                }
            }
        }
        for (provider, services) in &mut d.services {
            let formats = &d.formats[provider];
            for (service, svc) in services.iter_mut() {
                for (resource, by) in RESOURCES {
                    if let Some(f) = named_format(formats, service, resource, by) {
                        svc.named.push(((resource.to_string(), by), f));
                    }
                }
            }
        }
        d
    }

    /// A provider's compiled formats by name (empty for a provider without a spec).
    pub fn formats(&self, provider: Provider) -> &BTreeMap<String, FormatInfo> {
        static EMPTY: BTreeMap<String, FormatInfo> = BTreeMap::new();
        self.formats.get(&provider).unwrap_or(&EMPTY)
    }

    fn service(&self, action: &ActionSpec) -> Option<&ServiceFormats> {
        self.services.get(&action.provider)?.get(&action.service)
    }

    /// The format of a resource's id or name from the parameters that refer to it: the
    /// action's own first, then any of its service's.
    pub fn referenced_format(
        &self,
        action: &ActionSpec,
        resource: &str,
        by: RefBy,
    ) -> Option<&FormatInfo> {
        let formats = self.formats(action.provider);
        let own = action.parameters.iter().find_map(|p| {
            let r = p.references.as_ref()?;
            (r.resource == resource && r.by == by)
                .then(|| p.value_format())
                .flatten()
        });
        let name = match own {
            Some(f) => Some(f),
            None => self
                .service(action)?
                .referenced
                .iter()
                .find(|((r, b), _)| r == resource && *b == by)
                .map(|(_, f)| f.as_str()),
        };
        formats.get(name?)
    }

    /// The format of a resource's id (`by` = id) or name for the action's service, from the
    /// parameters that refer to it, else from the provider's format names.
    pub fn resource_format(
        &self,
        action: &ActionSpec,
        resource: &str,
        by: RefBy,
    ) -> Option<&FormatInfo> {
        self.referenced_format(action, resource, by).or_else(|| {
            let name = self
                .service(action)?
                .named
                .iter()
                .find(|((r, b), _)| r == resource && *b == by)
                .map(|(_, f)| f)?;
            self.formats(action.provider).get(name)
        })
    }
}

/// The provider format whose name ends like the resource's (`...-key-pair-id`), preferring the
/// service's own (`cvm-...`).
fn named_format(
    formats: &BTreeMap<String, FormatInfo>,
    service: &str,
    resource: &str,
    by: RefBy,
) -> Option<String> {
    let want: &[&str] = match (resource, by) {
        ("key_pair", RefBy::Id) => &["key-pair-id", "key-id"],
        ("key_pair", RefBy::Name) => &["key-pair-name", "key-name"],
        ("image", _) => &["image-id"],
        ("instance", _) => &["instance-id"],
        _ => &[],
    };
    formats
        .values()
        .filter(|f| want.iter().any(|w| f.name.ends_with(w)))
        .max_by_key(|f| f.name.starts_with(service))
        .map(|f| f.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The precomputed answer is the one a scan of the specs gives, for every action.
    #[test]
    fn resource_formats_match_a_scan() {
        let specs = SpecSet::load_default().expect("specs");
        let d = Derived::new(&specs);
        let mut found = 0;
        for action in specs.actions() {
            for (resource, by) in RESOURCES {
                let scanned = action
                    .parameters
                    .iter()
                    .chain(
                        specs
                            .actions()
                            .filter(|a| {
                                a.provider == action.provider && a.service == action.service
                            })
                            .flat_map(|a| a.parameters.iter()),
                    )
                    .find(|p| {
                        p.references
                            .as_ref()
                            .is_some_and(|r| r.resource == resource && r.by == by)
                            && p.value_format().is_some()
                    })
                    .and_then(|p| p.value_format());
                let got = d.referenced_format(action, resource, by).map(|f| &f.name);
                assert_eq!(
                    got.map(String::as_str),
                    scanned,
                    "{} {resource}",
                    action.key()
                );
                found += usize::from(d.resource_format(action, resource, by).is_some());
            }
        }
        assert!(found > 0, "some resource has a format");
    }
}
