//! The clouds cloudconform knows. One type shared by every module (specs, signers, emulator,
//! runner) so provider differences are matched on in one vocabulary.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Tencent,
    Alibaba,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Tencent, Provider::Alibaba];

    /// The lower-case name used in spec paths and case ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Tencent => "tencent",
            Provider::Alibaba => "alibaba",
        }
    }

    /// Same as [`Provider::as_str`].
    pub fn name(self) -> &'static str {
        self.as_str()
    }

    /// Exact lower-case name only (spec paths); see `FromStr` for the lenient form.
    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "tencent" => Some(Provider::Tencent),
            "alibaba" => Some(Provider::Alibaba),
            _ => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tencent" => Ok(Provider::Tencent),
            "alibaba" | "aliyun" => Ok(Provider::Alibaba),
            other => Err(format!("unknown provider `{other}` (tencent, alibaba)")),
        }
    }
}
