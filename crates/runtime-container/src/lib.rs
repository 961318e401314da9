//! The instance runtime over the Docker Engine API, which Docker and Podman both serve:
//! one container per instance, named `hydracore-<instance id>` and labelled with its
//! tenant and instance, given the instance's configuration as `HYDRACORE_INSTANCE_CONFIG`
//! (JSON) and its id as `HYDRACORE_INSTANCE_ID`; `config.resources` (`cpu`, `memory_mb`)
//! become the container's limits. The image is pulled when absent. Every call is
//! idempotent, as the `Runtime` port asks: starting a running container answers
//! `Running`, stopping a missing one `Stopped`.
//!
//! The engine is reached lazily: a server starts while its engine is away, and every
//! call that cannot reach it (no socket, a refused or broken connection, a timeout)
//! answers [`RuntimeError::Unreachable`], from which the control plane concludes
//! nothing; the next call tries again, so the engine's return needs no restart. An
//! engine that answers and refuses is [`RuntimeError::Refused`].

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as EngineError;
use bollard::models::{
    ContainerCreateBody, ContainerState, ContainerStateStatusEnum, ContainerSummaryStateEnum,
    HostConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt as _;
use hydracore_instances::{Instance, Observed, Runtime, RuntimeError, Status};
use serde_json::Value;

/// How long an agent has to stop before it is killed, in seconds.
const STOP_GRACE_SECS: i32 = 10;

/// How long the readiness ping waits (every other call may take as long as a pull).
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The label naming the instance a container runs.
const INSTANCE_LABEL: &str = "io.hydracore.instance";
/// The label naming the instance's tenant.
const TENANT_LABEL: &str = "io.hydracore.tenant";

/// The runtime over one engine.
#[derive(Debug)]
pub struct ContainerRuntime {
    host: String,
    engine: OnceLock<Docker>,
    calls: AtomicU64,
}

/// `e`, said as the failure of `what`: unreachable when the engine was not reached,
/// refused when it answered.
fn failure(what: &str, e: &EngineError) -> RuntimeError {
    let said = format!("{what}: {}", said(e));
    if is_unreachable(e) {
        RuntimeError::Unreachable(said.into())
    } else {
        RuntimeError::Refused(said.into())
    }
}

/// Whether the engine was not reached at all (as opposed to answering with an error).
fn is_unreachable(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::SocketNotFoundError(_)
            | EngineError::IOError { .. }
            | EngineError::HyperResponseError { .. }
            | EngineError::HyperLegacyError { .. }
            | EngineError::HttpClientError { .. }
            | EngineError::RequestTimeoutError
    )
}

/// The engine's own sentence for an error, without the client's wrapping.
fn said(e: &EngineError) -> String {
    match e {
        EngineError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn is_missing(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl ContainerRuntime {
    /// The engine at `host`: `unix:///path/to.sock` (Docker's or Podman's socket) or
    /// `tcp://host:port`.
    ///
    /// Nothing is asked of the engine yet: a socket that does not exist now is looked
    /// for again on each call.
    ///
    /// # Errors
    /// An address of another kind.
    pub fn connect(host: &str) -> Result<Self, String> {
        let unix = host.starts_with("unix://") || host.starts_with('/');
        let tcp = host.starts_with("tcp://") || host.starts_with("http://");
        if !unix && !tcp {
            return Err(format!(
                "DOCKER_HOST {host:?}: use unix:///path/to/engine.sock or tcp://host:port"
            ));
        }
        Ok(Self {
            host: host.to_owned(),
            engine: OnceLock::new(),
            calls: AtomicU64::new(0),
        })
    }

    /// The engine's client, made on first use (counted as one more call to it).
    fn engine(&self) -> Result<&Docker, RuntimeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(engine) = self.engine.get() {
            return Ok(engine);
        }
        let made = if self.host.starts_with("tcp://") || self.host.starts_with("http://") {
            Docker::connect_with_http(&self.host, 120, bollard::API_DEFAULT_VERSION)
        } else {
            Docker::connect_with_unix(&self.host, 120, bollard::API_DEFAULT_VERSION)
        };
        let engine =
            made.map_err(|e| failure(&format!("reaching the engine at {}", self.host), &e))?;
        Ok(self.engine.get_or_init(|| engine))
    }

    /// How many calls this runtime has made to the engine.
    pub fn engine_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The container's name for `instance`.
    pub fn container_name(instance: &Instance) -> String {
        format!("hydracore-{}", instance.id)
    }

    /// Pulls the image unless the engine has it.
    async fn ensure_image(&self, image: &str) -> Result<(), RuntimeError> {
        match self.engine()?.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_unreachable(&e) => return Err(failure("asking the engine", &e)),
            Err(_) => {}
        }
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let mut pull = self.engine()?.create_image(Some(options), None, None);
        while let Some(step) = pull.next().await {
            step.map_err(|e| failure(&format!("pulling {image}"), &e))?;
        }
        Ok(())
    }

    async fn create(&self, instance: &Instance, name: &str) -> Result<(), RuntimeError> {
        let image = instance.runtime_image.as_str();
        self.ensure_image(image).await?;
        let config: Value = serde_json::from_str(instance.config.as_str()).unwrap_or_default();
        let resources = config.get("resources");
        let memory = resources
            .and_then(|r| r.get("memory_mb"))
            .and_then(Value::as_f64)
            .map(|mb| (mb * 1024.0 * 1024.0) as i64);
        let nano_cpus = resources
            .and_then(|r| r.get("cpu"))
            .and_then(Value::as_f64)
            .map(|cpu| (cpu * 1e9) as i64);
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            env: Some(vec![
                format!("HYDRACORE_INSTANCE_ID={}", instance.id),
                format!("HYDRACORE_INSTANCE_CONFIG={}", instance.config.as_str()),
            ]),
            labels: Some(
                [
                    (INSTANCE_LABEL.to_owned(), instance.id.to_string()),
                    (TENANT_LABEL.to_owned(), instance.tenant_id.0.to_string()),
                ]
                .into(),
            ),
            host_config: Some(HostConfig {
                memory,
                nano_cpus,
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        match self.engine()?.create_container(Some(options), body).await {
            Ok(_) => Ok(()),
            // Another node (or a retry) made it first.
            Err(EngineError::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(failure("creating the container", &e)),
        }
    }

    /// Why a container that is not running ended, in words: its error, OOM, or its
    /// exit code.
    fn ended(state: ContainerState) -> String {
        if state.oom_killed == Some(true) {
            return "killed: out of memory".to_owned();
        }
        match (state.exit_code, state.error.filter(|e| !e.is_empty())) {
            (_, Some(error)) => error,
            (Some(code), None) => format!("exited with code {code}"),
            (None, None) => "it is no longer running".to_owned(),
        }
    }
}

/// A container that is gone: its instance cannot be running.
fn gone() -> Observed {
    Observed {
        status: Status::Failed,
        reason: Some("its container is gone".into()),
        runtime_ref: None,
    }
}

#[async_trait]
impl Runtime for ContainerRuntime {
    /// A ping that waits at most [`READY_TIMEOUT`]: an engine that hangs is not ready.
    async fn ready(&self) -> Result<(), RuntimeError> {
        let engine = self.engine()?.clone().with_timeout(READY_TIMEOUT);
        engine.ping().await.map(|_| ()).map_err(|e| {
            RuntimeError::Unreachable(format!("the engine at {}: {}", self.host, said(&e)).into())
        })
    }

    /// The container's log, both streams, as the engine keeps it.
    async fn logs(&self, instance: &Instance, tail: u32) -> Result<String, RuntimeError> {
        let name = Self::container_name(instance);
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&tail.to_string())
            .build();
        let mut stream = self.engine()?.logs(&name, Some(options));
        let mut text = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(
                    LogOutput::StdOut { message }
                    | LogOutput::StdErr { message }
                    | LogOutput::Console { message },
                ) => text.extend_from_slice(&message),
                Ok(LogOutput::StdIn { .. }) => {}
                // Never ran: nothing written.
                Err(e) if is_missing(&e) => return Ok(String::new()),
                Err(e) => return Err(failure("reading the container's log", &e)),
            }
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    /// One listing of the engine's HydraCore containers answers for every instance;
    /// only a container that ended is inspected, for why.
    async fn observe_all(&self, instances: &[Instance]) -> Result<Vec<Observed>, RuntimeError> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&HashMap::from([("label", vec![INSTANCE_LABEL])]))
            .build();
        let listed = self
            .engine()?
            .list_containers(Some(options))
            .await
            .map_err(|e| failure("listing the containers", &e))?;
        let by_instance: HashMap<&str, _> = listed
            .iter()
            .filter_map(|c| Some((c.labels.as_ref()?.get(INSTANCE_LABEL)?.as_str(), c)))
            .collect();
        let mut seen = Vec::with_capacity(instances.len());
        for instance in instances {
            let id = instance.id.to_string();
            let Some(container) = by_instance.get(id.as_str()) else {
                seen.push(gone());
                continue;
            };
            seen.push(match container.state {
                Some(
                    ContainerSummaryStateEnum::RUNNING
                    | ContainerSummaryStateEnum::RESTARTING
                    | ContainerSummaryStateEnum::PAUSED,
                ) => Observed {
                    status: Status::Running,
                    reason: None,
                    runtime_ref: container.id.clone(),
                },
                Some(ContainerSummaryStateEnum::CREATED) => Observed {
                    status: Status::Starting,
                    reason: None,
                    runtime_ref: container.id.clone(),
                },
                _ => self.observe(instance).await?,
            });
        }
        Ok(seen)
    }

    async fn start(&self, instance: &Instance) -> Result<Status, RuntimeError> {
        let name = Self::container_name(instance);
        match self.engine()?.inspect_container(&name, None).await {
            Ok(c) if c.state.as_ref().and_then(|s| s.running) == Some(true) => {
                return Ok(Status::Running);
            }
            Ok(_) => {}
            Err(e) if is_missing(&e) => self.create(instance, &name).await?,
            Err(e) => return Err(failure("asking the engine", &e)),
        }
        match self.engine()?.start_container(&name, None).await {
            // 304: already running.
            Ok(())
            | Err(EngineError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(Status::Running),
            Err(e) => Err(failure("starting the container", &e)),
        }
    }

    async fn stop(&self, instance: &Instance) -> Result<Status, RuntimeError> {
        let name = Self::container_name(instance);
        let options = StopContainerOptionsBuilder::new()
            .t(STOP_GRACE_SECS)
            .build();
        match self.engine()?.stop_container(&name, Some(options)).await {
            Ok(()) => Ok(Status::Stopped),
            Err(EngineError::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => Ok(Status::Stopped),
            Err(e) => Err(failure("stopping the container", &e)),
        }
    }

    async fn remove(&self, instance: &Instance) -> Result<(), RuntimeError> {
        let name = Self::container_name(instance);
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.engine()?.remove_container(&name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(failure("removing the container", &e)),
        }
    }

    async fn observe(&self, instance: &Instance) -> Result<Observed, RuntimeError> {
        let name = Self::container_name(instance);
        let container = match self.engine()?.inspect_container(&name, None).await {
            Ok(c) => c,
            Err(e) if is_missing(&e) => return Ok(gone()),
            Err(e) => return Err(failure("asking the engine", &e)),
        };
        let state = container.state.unwrap_or_default();
        let (status, reason) = match state.status {
            Some(
                ContainerStateStatusEnum::RUNNING
                | ContainerStateStatusEnum::RESTARTING
                | ContainerStateStatusEnum::PAUSED,
            ) => (Status::Running, None),
            Some(ContainerStateStatusEnum::CREATED) => (Status::Starting, None),
            _ => (Status::Failed, Some(Self::ended(state))),
        };
        Ok(Observed {
            status,
            reason,
            runtime_ref: container.id,
        })
    }
}
