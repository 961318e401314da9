//! The contract suite against the in-memory fakes.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use std::sync::Arc;

use hydracore_auth::testing::{InMemoryRefreshTokens, InMemorySessions};
use hydracore_core::idempotency::testing::InMemoryIdempotency;
use hydracore_instances::testing::{InMemoryInstanceRepository, InMemoryRuntimeImageRepository};
use hydracore_keys::testing::InMemoryKeyRepository;
use hydracore_mcp_creds::testing::InMemoryMcpCredentials;
use hydracore_mcp_log::testing::InMemoryMcpCallLog;
use hydracore_store_contract::{Harness, Ports, contract_tests};
use hydracore_tenants::testing::InMemoryTenantRepository;

struct Fakes;

impl Harness for Fakes {
    async fn setup() -> Option<(Self, Ports)> {
        let tenants = Arc::new(InMemoryTenantRepository::default());
        Some((
            Fakes,
            Ports {
                tenants: tenants.clone(),
                users: tenants.clone(),
                members: tenants,
                refresh: Arc::new(InMemoryRefreshTokens::default()),
                sessions: Arc::new(InMemorySessions::default()),
                creds: Arc::new(InMemoryMcpCredentials::default()),
                keys: Arc::new(InMemoryKeyRepository::default()),
                instances: Arc::new(InMemoryInstanceRepository::default()),
                images: Arc::new(InMemoryRuntimeImageRepository::default()),
                calls: Arc::new(InMemoryMcpCallLog::default()),
                idempotency: Arc::new(InMemoryIdempotency::default()),
            },
        ))
    }

    async fn teardown(self) {}
}

contract_tests!(Fakes);
