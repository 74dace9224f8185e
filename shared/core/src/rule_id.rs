//! Rule identifiers and severities: stable names users write in settings and filters.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Severity::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown severity '{s}' (expected one of: info, low, medium, high, critical)"
            ))
        })
    }
}

macro_rules! rules {
    ($($variant:ident => $id:literal, $sev:ident, $desc:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId { $($variant,)* }

        impl RuleId {
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(RuleId::$variant => $id,)* }
            }

            pub fn default_severity(self) -> Severity {
                match self { $(RuleId::$variant => Severity::$sev,)* }
            }

            pub fn description(self) -> &'static str {
                match self { $(RuleId::$variant => $desc,)* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($id => Some(RuleId::$variant),)* _ => None }
            }
        }
    };
}

rules! {
    UnregisteredIdentity => "unregistered-identity", High,
        "An identity with no governance record acted.";
    NoOwner => "no-owner", Medium,
        "An identity whose governance record names no accountable owner acted.";
    RetiredIdentityActive => "retired-identity-active", Critical,
        "A retired or suspended identity acted.";
    ApprovalExpired => "approval-expired", High,
        "An identity acted after its governance record expired.";
    ReviewOverdue => "review-overdue", Low,
        "An identity acted while its periodic review was overdue.";
    ActionOutsidePurpose => "action-outside-purpose", High,
        "An action that the record denies, or that no allow statement covers.";
    ResourceOutsideScope => "resource-outside-scope", Medium,
        "An allowed action on a resource outside the allowed resources.";
    RegionOutsideScope => "region-outside-scope", Medium,
        "An allowed action in a region outside the allowed regions.";
    SourceOutsideScope => "source-outside-scope", High,
        "An allowed action from outside the allowed networks, VPC endpoints or calling services.";
    EnvironmentCrossing => "environment-crossing", High,
        "An identity acted in an account outside its environments.";
    HumanUseOfWorkload => "human-use-of-workload", High,
        "Console sign-in, federation token or console session on a workload or agent identity.";
    PrivilegeChangeByNhi => "privilege-change-by-nhi", Critical,
        "A non-human identity changed credentials, policies or trust without explicit allowance.";
    RootActivity => "root-activity", Critical,
        "The account root user acted.";
    LongTermKey => "long-term-key", Medium,
        "A long-term access key (AKIA...) was used where the record requires short-lived credentials.";
    AgentWithoutDelegation => "agent-without-delegation", Medium,
        "An AI agent acted without sourceIdentity or onBehalfOf naming who it acts for.";
    UngovernedIdentityCreated => "ungoverned-identity-created", High,
        "A user, role, access key or console password was created for an identity with no governance record.";
    UngovernedIdentity => "ungoverned-identity", High,
        "An IAM user or role exists with no governance record, or with a retired one.";
    StaleRecord => "stale-record", Medium,
        "A governance record names an IAM user or role that no longer exists: retire the record.";
    KeyTooOld => "key-too-old", Medium,
        "An active access key is older than the record's (or the default) maximum key age.";
    TwoActiveKeys => "two-active-keys", Low,
        "An IAM user has two active access keys.";
    UnusedCredential => "unused-credential", Medium,
        "An identity, or an active access key, has not been used for longer than the threshold.";
    ReviewDueSoon => "review-due-soon", Info,
        "A governance record's periodic review falls due within the notice period.";
    ExceptionExpiring => "exception-expiring", Low,
        "An approved exception expires within the notice period.";
    ConsolePasswordOnNhi => "console-password-on-nhi", High,
        "A workload or agent identity has a console password (login profile).";
    KeysOnHuman => "keys-on-human", Medium,
        "A human identity (or the root user) has active access keys where the settings forbid them.";
    UnknownOwner => "unknown-owner", Medium,
        "A governance record names no owner, or one missing from the settings' known owners.";
}

impl RuleId {
    /// What produces this rule's findings: CloudTrail events, the inventory sweep, or both.
    pub fn source(self) -> &'static str {
        match self {
            RuleId::ReviewOverdue | RuleId::StaleRecord => "events+sweep",
            r if r.is_sweep() => "sweep",
            _ => "events",
        }
    }

    /// Rules the inventory sweep evaluates (and resolves when their condition clears).
    pub fn is_sweep(self) -> bool {
        matches!(
            self,
            RuleId::UngovernedIdentity
                | RuleId::StaleRecord
                | RuleId::KeyTooOld
                | RuleId::TwoActiveKeys
                | RuleId::UnusedCredential
                | RuleId::ReviewOverdue
                | RuleId::ReviewDueSoon
                | RuleId::ExceptionExpiring
                | RuleId::ConsolePasswordOnNhi
                | RuleId::KeysOnHuman
                | RuleId::UnknownOwner
        )
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RuleId::parse(&s).ok_or_else(|| {
            let ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
            serde::de::Error::custom(format!("unknown rule id '{s}' (known: {})", ids.join(", ")))
        })
    }
}
