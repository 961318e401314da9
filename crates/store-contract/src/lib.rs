//! The port contract suite: one set of cases that every implementation of the
//! repository ports must pass, so the PostgreSQL adapter, the SQLite adapter and the
//! in-memory fakes cannot drift apart.
//!
//! An implementation provides a [`Harness`] and calls [`contract_tests!`], which
//! expands to one named test per case. Depends on domain crates only.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

pub mod cases;

use std::sync::Arc;

use hydracore_audit::AuditLog;
use hydracore_audit::testing::InMemoryAuditLog;
use hydracore_auth::oauth::OAuthRepository;
use hydracore_auth::testing::{InMemoryOAuth, InMemoryRefreshTokens, InMemorySessions};
use hydracore_auth::{RefreshTokenRepository, SessionRepository};
use hydracore_core::idempotency::IdempotencyStore;
use hydracore_core::idempotency::testing::InMemoryIdempotency;
use hydracore_core::testing::EventSink;
use hydracore_instances::testing::{InMemoryInstanceRepository, InMemoryRuntimeImageRepository};
use hydracore_instances::{InstanceRepository, RuntimeImageRepository};
use hydracore_keys::KeyRepository;
use hydracore_keys::testing::InMemoryKeyRepository;
use hydracore_mcp_creds::McpCredentialRepository;
use hydracore_mcp_creds::testing::InMemoryMcpCredentials;
use hydracore_mcp_log::McpCallLog;
use hydracore_mcp_log::testing::InMemoryMcpCallLog;
use hydracore_tenants::testing::InMemoryTenantRepository;
use hydracore_tenants::{MembershipRepository, TenantRepository, UserRepository};

/// Every port, as one implementation provides them.
#[derive(Clone)]
pub struct Ports {
    pub tenants: Arc<dyn TenantRepository>,
    pub keys: Arc<dyn KeyRepository>,
    pub instances: Arc<dyn InstanceRepository>,
    pub images: Arc<dyn RuntimeImageRepository>,
    pub calls: Arc<dyn McpCallLog>,
    pub users: Arc<dyn UserRepository>,
    pub members: Arc<dyn MembershipRepository>,
    pub refresh: Arc<dyn RefreshTokenRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub creds: Arc<dyn McpCredentialRepository>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub oauth: Arc<dyn OAuthRepository>,
    /// Reads back the events every other port writes with its changes.
    pub audit: Arc<dyn AuditLog>,
}

/// A new port is added in three places, all below: a field, a bound of [`Ports::of`]
/// (which fills the stores' harnesses) and its fake in [`Ports::fakes`].
impl Ports {
    /// Every port from one implementation of them all (a store).
    pub fn of<S>(store: S) -> Self
    where
        S: TenantRepository
            + KeyRepository
            + InstanceRepository
            + RuntimeImageRepository
            + McpCallLog
            + UserRepository
            + MembershipRepository
            + RefreshTokenRepository
            + SessionRepository
            + McpCredentialRepository
            + IdempotencyStore
            + OAuthRepository
            + AuditLog
            + 'static,
    {
        let s = Arc::new(store);
        Self {
            tenants: s.clone(),
            keys: s.clone(),
            instances: s.clone(),
            images: s.clone(),
            calls: s.clone(),
            users: s.clone(),
            members: s.clone(),
            refresh: s.clone(),
            sessions: s.clone(),
            creds: s.clone(),
            idempotency: s.clone(),
            oauth: s.clone(),
            audit: s,
        }
    }

    /// Every port from the domain crates' in-memory fakes, which write their events
    /// to one sink as a store keeps them in one table.
    pub fn fakes() -> Self {
        let events = EventSink::default();
        let tenants = Arc::new(InMemoryTenantRepository::with_events(events.clone()));
        Self {
            tenants: tenants.clone(),
            users: tenants.clone(),
            members: tenants,
            refresh: Arc::new(InMemoryRefreshTokens::with_events(events.clone())),
            sessions: Arc::new(InMemorySessions::with_events(events.clone())),
            creds: Arc::new(InMemoryMcpCredentials::with_events(events.clone())),
            keys: Arc::new(InMemoryKeyRepository::with_events(events.clone())),
            instances: Arc::new(InMemoryInstanceRepository::with_events(events.clone())),
            images: Arc::new(InMemoryRuntimeImageRepository::with_events(events.clone())),
            oauth: Arc::new(InMemoryOAuth::with_events(events.clone())),
            audit: Arc::new(InMemoryAuditLog::over(events)),
            calls: Arc::new(InMemoryMcpCallLog::default()),
            idempotency: Arc::new(InMemoryIdempotency::default()),
        }
    }
}

/// Makes fresh, empty ports for one case, and cleans up after it.
pub trait Harness: Sized {
    /// `None` when this implementation cannot run here (and may be skipped).
    fn setup() -> impl Future<Output = Option<(Self, Ports)>>;
    fn teardown(self) -> impl Future<Output = ()>;
}

/// Every contract case, listed under the port it holds to its word. Calls
/// `$crate::$then!` with `[$args]` and the list, so the test expansion and the
/// [`CASES`] table read one list.
#[doc(hidden)]
#[macro_export]
macro_rules! contract_cases {
    ($then:ident [$($args:tt)*]) => {
        $crate::$then! { [$($args)*]
            tenants: tenants_insert_and_find;
            keys:
                keys_round_trip_by_hash_and_id,
                keys_update_and_revoke,
                keys_rotate_once_all_or_nothing,
                keys_record_usage_keeps_the_latest,
                keys_list_pages_skip_revoked,
                keys_usage_adds_up_per_key_and_hour,
                keys_usage_sweep_deletes_only_older_buckets;
            instances:
                instances_crud_and_isolation,
                instances_names_unique_per_tenant,
                instances_transition_is_compare_and_set,
                instances_pages_return_every_row_once,
                instances_unsettled_cross_tenants_oldest_first,
                instances_running_cross_tenants_with_reasons;
            images: images_promotion;
            call_log: call_log_append_and_list, call_log_filters_and_reads_newest_first;
            users:
                users_signup_is_all_or_nothing,
                users_switch_only_to_their_tenants;
            memberships:
                memberships_add_list_and_tenants_of,
                memberships_keep_an_owner,
                memberships_keep_an_owner_under_concurrency,
                memberships_change_only_roles_the_caller_manages,
                memberships_cap_the_tenants_a_user_owns;
            refresh_tokens: refresh_tokens_rotate_once_and_revoke_families;
            sessions: sessions_find_end_and_sweep;
            audit:
                audit_events_come_with_their_change_only,
                audit_events_filter_page_and_sweep;
            mcp_credentials: mcp_credentials_round_trip_sealed;
            oauth:
                oauth_codes_and_tokens_exchange_once,
                oauth_grants_revoke_with_their_tokens;
            idempotency:
                idempotency_claims_replay_and_lapse,
                idempotency_begin_answers_while_claims_come_and_go;
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! contract_table {
    ([] $($port:ident: $($case:ident),+;)*) => {
        &[$((stringify!($port), &[$(stringify!($case)),+])),*]
    };
}

/// Each port with the cases that hold it, as [`contract_tests!`] runs them.
pub const CASES: &[(&str, &[&str])] = contract_cases!(contract_table[]);

/// Expands to one `#[tokio::test]` per contract case, run against `$harness`.
#[macro_export]
macro_rules! contract_tests {
    ($harness:ty) => {
        $crate::contract_cases!(contract_test_fns[$harness]);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! contract_test_fns {
    ([$harness:ty] $($port:ident: $($case:ident),+;)*) => {
        $($(
            #[tokio::test]
            async fn $case() {
                let Some((harness, ports)) = <$harness as $crate::Harness>::setup().await else {
                    return;
                };
                $crate::cases::$case(&ports).await;
                <$harness as $crate::Harness>::teardown(harness).await;
            }
        )+)*
    };
}
