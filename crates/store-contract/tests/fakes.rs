//! The contract suite against the in-memory fakes.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use std::sync::Arc;

use hydracore_audit::testing::InMemoryAuditLog;
use hydracore_auth::testing::{InMemoryOAuth, InMemoryRefreshTokens, InMemorySessions};
use hydracore_core::idempotency::testing::InMemoryIdempotency;
use hydracore_core::testing::EventSink;
use hydracore_instances::testing::{InMemoryInstanceRepository, InMemoryRuntimeImageRepository};
use hydracore_keys::testing::InMemoryKeyRepository;
use hydracore_mcp_creds::testing::InMemoryMcpCredentials;
use hydracore_mcp_log::testing::InMemoryMcpCallLog;
use hydracore_store_contract::{Harness, Ports, contract_tests};
use hydracore_tenants::testing::InMemoryTenantRepository;

struct Fakes;

impl Harness for Fakes {
    async fn setup() -> Option<(Self, Ports)> {
        // One sink for every fake's events, as a store keeps them in one table.
        let events = EventSink::default();
        let tenants = Arc::new(InMemoryTenantRepository::with_events(events.clone()));
        Some((
            Fakes,
            Ports {
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
            },
        ))
    }

    async fn teardown(self) {}
}

contract_tests!(Fakes);
