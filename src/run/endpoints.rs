//! Live endpoints: which URL each action is sent to. By default the action spec's own
//! `endpoints` list decides, for the profile's region (the regional domain when the spec lists
//! one for that region, else the central domain; the international domain when the profile says
//! `"site": "intl"`), always over HTTPS. `--endpoint SERVICE=URL` overrides a service (a proxy,
//! a private endpoint, an emulator in tests). The provider is always the spec's, never guessed
//! from a host name.
use super::exec::Endpoint;
use crate::spec::ActionSpec;
use std::collections::BTreeMap;

/// How live actions find their endpoint.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// `cvm` or `tencent/cvm` → URL; `*` → URL for every service (`--target URL`).
    overrides: BTreeMap<String, Endpoint>,
    region: String,
    /// Per-provider regions (the profile's `regions`), else `region`.
    regions: BTreeMap<crate::spec::Provider, String>,
    international: bool,
}

impl Endpoints {
    pub fn new(region: impl Into<String>, international: bool) -> Endpoints {
        Endpoints {
            overrides: BTreeMap::new(),
            region: region.into(),
            regions: BTreeMap::new(),
            international,
        }
    }

    /// Regions per provider (a profile covering both clouds).
    pub fn with_regions(mut self, regions: BTreeMap<crate::spec::Provider, String>) -> Endpoints {
        self.regions = regions;
        self
    }

    /// Every service at one URL (`--target URL`).
    pub fn everything_at(mut self, endpoint: Endpoint) -> Endpoints {
        self.overrides.insert("*".into(), endpoint);
        self
    }

    /// `SERVICE=URL` (`cvm=https://127.0.0.1:8443`, `alibaba/ecs=http://proxy:8080`).
    pub fn with_override(mut self, text: &str) -> Result<Endpoints, String> {
        let (service, url) = text.split_once('=').ok_or_else(|| {
            format!("--endpoint `{text}`: expected SERVICE=URL, e.g. cvm=https://127.0.0.1:8443")
        })?;
        let endpoint = Endpoint::parse(url).ok_or_else(|| {
            format!("--endpoint `{text}`: `{url}` is not an http:// or https:// URL")
        })?;
        let service = service.trim().to_ascii_lowercase();
        if service.is_empty() {
            return Err(format!("--endpoint `{text}`: the service name is empty"));
        }
        self.overrides.insert(service, endpoint);
        Ok(self)
    }

    /// Services named in overrides that no spec knows (a typo would silently send to the
    /// real cloud).
    pub fn unknown_overrides<'a>(
        &'a self,
        known: &'a [(String, String)],
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.overrides.keys().map(String::as_str).filter(move |k| {
            *k != "*"
                && !known
                    .iter()
                    .any(|(p, s)| *k == s.as_str() || *k == format!("{p}/{s}"))
        })
    }

    /// The endpoint `action` is sent to.
    pub fn for_action(&self, action: &ActionSpec) -> Result<Endpoint, String> {
        let keyed = format!("{}/{}", action.provider, action.service);
        if let Some(e) = self
            .overrides
            .get(&keyed)
            .or_else(|| self.overrides.get(&action.service))
            .or_else(|| self.overrides.get("*"))
        {
            return Ok(e.clone());
        }
        let host =
            pick_host(&action.endpoints, &self.region, self.international).ok_or_else(|| {
                format!(
                    "{}: the spec lists no endpoint; pass --endpoint {}=URL",
                    action.action, action.service
                )
            })?;
        Endpoint::parse(&format!("https://{host}"))
            .ok_or_else(|| format!("{}: spec endpoint `{host}` is not a host", action.action))
    }

    /// One endpoint for callers that need any (worker slots; each case resolves its own).
    pub fn any(&self) -> Endpoint {
        self.overrides
            .values()
            .next()
            .cloned()
            .unwrap_or_else(|| Endpoint {
                base: "https://unresolved.invalid".into(),
                host: "unresolved.invalid".into(),
                placement: None,
                connections: None,
            })
    }

    /// Every endpoint is an override on a loopback host (tests, a local emulator or proxy):
    /// nothing the run sends goes through an HTTP proxy. Spec endpoints never are.
    pub fn all_loopback(&self) -> bool {
        self.overrides.contains_key("*") && self.overrides.values().all(Endpoint::is_loopback)
            || (!self.overrides.is_empty()
                && self.overrides.values().all(Endpoint::is_loopback)
                && self.covers_every_service_used())
    }

    /// Without knowing which services a run uses, only the four this harness has specs for
    /// count as covered.
    fn covers_every_service_used(&self) -> bool {
        ["cvm", "ecm", "ecs", "ens"].iter().all(|s| {
            self.overrides
                .keys()
                .any(|k| k == s || k.ends_with(&format!("/{s}")))
        })
    }

    /// The single override URL's host, when every service goes to one place.
    pub fn single_host(&self) -> Option<String> {
        let mut hosts: Vec<&str> = self.overrides.values().map(|e| e.host.as_str()).collect();
        hosts.dedup();
        (hosts.len() == 1).then(|| hosts[0].to_string())
    }
}

/// Choose among a spec's endpoint entries. VPC-only domains are never chosen (they resolve only
/// inside the cloud's network).
fn pick_host(entries: &[String], region: &str, international: bool) -> Option<String> {
    let public: Vec<&String> = entries.iter().filter(|e| !e.contains("vpc")).collect();
    if international {
        if let Some(e) = public.iter().find(|e| e.contains(".intl.")) {
            return Some(e.replace("{region}", region));
        }
    }
    let regional = public.iter().find_map(|e| {
        if e.contains("{region}") {
            Some(e.replace("{region}", region))
        } else {
            let labels: Vec<&str> = e.split('.').collect();
            labels[1..].contains(&region).then(|| e.to_string())
        }
    });
    regional.or_else(|| {
        public
            .iter()
            .find(|e| !e.contains("{region}") && !e.contains(".intl."))
            .map(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::pick_host;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn regional_international_and_central_domains() {
        let cvm = s(&[
            "cvm.tencentcloudapi.com",
            "cvm.intl.tencentcloudapi.com",
            "cvm.{region}.tencentcloudapi.com",
        ]);
        assert_eq!(
            pick_host(&cvm, "ap-guangzhou", false).unwrap(),
            "cvm.ap-guangzhou.tencentcloudapi.com"
        );
        assert_eq!(
            pick_host(&cvm, "ap-guangzhou", true).unwrap(),
            "cvm.intl.tencentcloudapi.com"
        );
        let ecm = s(&["ecm.tencentcloudapi.com", "ecm.intl.tencentcloudapi.com"]);
        assert_eq!(
            pick_host(&ecm, "ap-x", false).unwrap(),
            "ecm.tencentcloudapi.com"
        );
        let ens = s(&[
            "ens.aliyuncs.com",
            "ens.ap-southeast-1.aliyuncs.com",
            "ens-vpc.cn-zhangjiakou.aliyuncs.com",
        ]);
        assert_eq!(
            pick_host(&ens, "ap-southeast-1", false).unwrap(),
            "ens.ap-southeast-1.aliyuncs.com"
        );
        assert_eq!(
            pick_host(&ens, "cn-zhangjiakou", false).unwrap(),
            "ens.aliyuncs.com"
        );
        let ecs = s(&[
            "ecs.aliyuncs.com",
            "ecs.{region}.aliyuncs.com",
            "ecs-{region}.aliyuncs.com",
            "ecs-vpc.{region}.aliyuncs.com",
        ]);
        assert_eq!(
            pick_host(&ecs, "cn-hangzhou", false).unwrap(),
            "ecs.cn-hangzhou.aliyuncs.com"
        );
    }
}
