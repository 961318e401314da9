//! The smoke test behind `POST /internal/v1/smoke`: a write, read and delete round
//! trip through every store, timed step by step, leaving nothing behind.

use std::time::Instant;

use futures_util::future::BoxFuture;
use hydracore_http::{AppState, Smoke, SmokeStep};
use hydracore_instances::CreateInstance;
use hydracore_keys::{ApiKeyId, Grantor, MintKey};
use hydracore_mcp_creds::CreateCredential;
use hydracore_mcp_log::{CallId, CallStatus, McpCall};
use hydracore_store::Store;

/// Runs the round trip over the application's own services.
pub struct StoreSmoke {
    pub store: Store,
    pub state: AppState,
}

async fn timed<T, E>(
    steps: &mut Vec<SmokeStep>,
    step: &'static str,
    f: impl Future<Output = Result<T, E>>,
) -> Option<T> {
    let started = Instant::now();
    let out = f.await.ok();
    steps.push(SmokeStep {
        step,
        ok: out.is_some(),
        millis: started.elapsed().as_secs_f64() * 1000.0,
    });
    out
}

impl StoreSmoke {
    async fn round_trip(&self) -> Vec<SmokeStep> {
        let s = &self.state.api;
        let who = hydracore_core::audit::Who::ops();
        let mut steps = Vec::new();
        timed(&mut steps, "database: ping", self.store.ping()).await;
        let Some(tenant) = timed(
            &mut steps,
            "tenants: write",
            s.tenants.create(&who, "smoke test"),
        )
        .await
        else {
            return steps;
        };
        let t = tenant.id;
        timed(&mut steps, "tenants: read", s.tenants.get(t)).await;
        timed(&mut steps, "instances: write, read, delete", async {
            let i = s
                .instances
                .create(
                    t,
                    &who,
                    CreateInstance {
                        name: "smoke".into(),
                        ..CreateInstance::default()
                    },
                )
                .await?;
            s.instances.get(t, i.id).await?;
            s.instances.delete(t, &who, i.id).await
        })
        .await;
        timed(&mut steps, "api keys: mint, verify, revoke", async {
            let minted = s
                .keys
                .mint(
                    t,
                    Grantor::Operator,
                    &who,
                    MintKey {
                        name: "smoke".into(),
                        scopes: vec!["instances:read".into()],
                        ..MintKey::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            s.keys
                .verify(minted.secret.expose())
                .await
                .map_err(|e| e.to_string())?;
            s.keys
                .revoke(t, Grantor::Operator, &who, minted.key.id)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
        timed(&mut steps, "mcp credentials: seal, open, delete", async {
            let c = s
                .credentials
                .create(
                    t,
                    &who,
                    CreateCredential {
                        name: "smoke".into(),
                        server_url: "https://smoke.invalid".into(),
                        auth_kind: "bearer".into(),
                        header_name: None,
                        secret: "smoke-secret-value".into(),
                    },
                )
                .await?;
            let revealed = s.credentials.reveal(t, c.id).await?;
            if revealed != "smoke-secret-value" {
                return Err(hydracore_mcp_creds::CredentialError::NotFound);
            }
            s.credentials.delete(t, &who, c.id).await
        })
        .await;
        timed(&mut steps, "mcp call log: append, read", async {
            let call = McpCall {
                id: CallId::new(),
                tenant_id: t,
                caller: hydracore_mcp_log::CallCaller::Key(ApiKeyId(uuid::Uuid::nil())),
                tool: "smoke".into(),
                scope: String::new(),
                status: CallStatus::Ok,
                latency_us: 0,
                created_at: time::OffsetDateTime::now_utc(),
            };
            s.calls.append(std::slice::from_ref(&call)).await?;
            let page = s
                .calls
                .list(
                    t,
                    &hydracore_mcp_log::CallQuery::default(),
                    hydracore_core::PageRequest::first(),
                )
                .await?;
            if page.items.iter().any(|c| c.id == call.id) {
                Ok(())
            } else {
                Err(hydracore_core::RepoError::Unexpected(
                    "the appended record was not read back".into(),
                ))
            }
        })
        .await;
        timed(&mut steps, "audit log: read", async {
            let events = s
                .audit
                .list(
                    t,
                    &hydracore_audit::AuditQuery::default(),
                    hydracore_core::PageRequest::first(),
                )
                .await?;
            // The tenant, the instance, the key and the credential left theirs.
            if events.items.len() < 7 {
                return Err(hydracore_audit::AuditError::NotFound);
            }
            Ok(())
        })
        .await;
        timed(&mut steps, "tenants: delete", s.tenants.delete(t)).await;
        steps
    }
}

impl Smoke for StoreSmoke {
    fn run(&self) -> BoxFuture<'_, Vec<SmokeStep>> {
        Box::pin(self.round_trip())
    }
}
