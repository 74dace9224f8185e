//! govtrail core: a pure governance engine for CloudTrail. Reads records, normalises them into
//! `Activity`s, evaluates them against governance records, and keeps deduplicated findings.

pub mod action;
pub mod activity;
pub mod credential_report;
pub mod finding;
pub mod frame;
pub mod input;
pub mod inventory;
mod lenient;
pub mod lifecycle;
pub mod memory_store;
pub mod pattern;
pub mod pipeline;
pub mod ports;
pub mod record;
pub mod resources;
pub mod rule_id;
pub mod rules;
pub mod sqlite_store;
pub mod sweep;

pub use activity::{normalise, Activity, ActorClass};
pub use finding::{Finding, FindingFilter, Hit, HitOutcome, Status};
pub use input::{InputError, Origin, ReadStats, Source};
pub use inventory::{GovernanceRecord, Inventory, Settings};
pub use lifecycle::{KnownState, LifecycleChange, LifecycleEvent};
pub use memory_store::MemoryStore;
pub use pipeline::{Pipeline, Summary};
pub use ports::{AlertSink, FindingStore, GovernanceSource, LifecycleStore};
pub use record::{RawRecord, SkipReason};
pub use rule_id::{RuleId, Severity};
pub use rules::{evaluate, Evaluation, GovernanceLookup};
pub use sqlite_store::SqliteStore;
