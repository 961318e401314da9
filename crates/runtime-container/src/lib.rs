//! The instance runtime over the Docker Engine API, which Docker and Podman both serve:
//! one container per instance, named `hydracore-<instance id>` and labelled with its
//! tenant and instance, given the instance's configuration as `HYDRACORE_INSTANCE_CONFIG`
//! (JSON) and its id as `HYDRACORE_INSTANCE_ID`; `config.resources` (`cpu`, `memory_mb`)
//! become the container's limits. The image is pulled when absent. Every call is
//! idempotent, as the `Runtime` port asks: starting a running container answers
//! `Running`, stopping a missing one `Stopped`.

use async_trait::async_trait;
use bollard::Docker;
use bollard::errors::Error as EngineError;
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures_util::StreamExt as _;
use hydracore_instances::{Instance, Observed, Runtime, RuntimeError, Status};
use serde_json::Value;

/// How long an agent has to stop before it is killed, in seconds.
const STOP_GRACE_SECS: i32 = 10;

/// The runtime over one engine.
#[derive(Debug, Clone)]
pub struct ContainerRuntime {
    engine: Docker,
}

fn failure(what: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError(format!("{what}: {e}").into())
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
    /// # Errors
    /// An address of another kind, or a socket that does not exist.
    pub fn connect(host: &str) -> Result<Self, String> {
        let engine = if host.starts_with("unix://") || host.starts_with('/') {
            Docker::connect_with_unix(host, 120, bollard::API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(host, 120, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(format!(
                "DOCKER_HOST {host:?}: use unix:///path/to/engine.sock or tcp://host:port"
            ));
        };
        engine
            .map(|engine| Self { engine })
            .map_err(|e| format!("DOCKER_HOST {host:?}: {e}"))
    }

    /// Whether the engine answers.
    ///
    /// # Errors
    /// Why it does not.
    pub async fn ping(&self) -> Result<(), String> {
        self.engine.ping().await.map(|_| ()).map_err(|e| said(&e))
    }

    /// The container's name for `instance`.
    pub fn container_name(instance: &Instance) -> String {
        format!("hydracore-{}", instance.id)
    }

    /// Pulls the image unless the engine has it.
    async fn ensure_image(&self, image: &str) -> Result<(), RuntimeError> {
        if self.engine.inspect_image(image).await.is_ok() {
            return Ok(());
        }
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let mut pull = self.engine.create_image(Some(options), None, None);
        while let Some(step) = pull.next().await {
            step.map_err(|e| failure(&format!("pulling {image}"), said(&e)))?;
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
                    ("io.hydracore.instance".to_owned(), instance.id.to_string()),
                    (
                        "io.hydracore.tenant".to_owned(),
                        instance.tenant_id.0.to_string(),
                    ),
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
        match self.engine.create_container(Some(options), body).await {
            Ok(_) => Ok(()),
            // Another node (or a retry) made it first.
            Err(EngineError::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(failure("creating the container", said(&e))),
        }
    }
}

#[async_trait]
impl Runtime for ContainerRuntime {
    async fn start(&self, instance: &Instance) -> Result<Status, RuntimeError> {
        let name = Self::container_name(instance);
        match self.engine.inspect_container(&name, None).await {
            Ok(c) if c.state.as_ref().and_then(|s| s.running) == Some(true) => {
                return Ok(Status::Running);
            }
            Ok(_) => {}
            Err(e) if is_missing(&e) => self.create(instance, &name).await?,
            Err(e) => return Err(failure("asking the engine", said(&e))),
        }
        match self.engine.start_container(&name, None).await {
            // 304: already running.
            Ok(())
            | Err(EngineError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(Status::Running),
            Err(e) => Err(failure("starting the container", said(&e))),
        }
    }

    async fn stop(&self, instance: &Instance) -> Result<Status, RuntimeError> {
        let name = Self::container_name(instance);
        let options = StopContainerOptionsBuilder::new()
            .t(STOP_GRACE_SECS)
            .build();
        match self.engine.stop_container(&name, Some(options)).await {
            Ok(()) => Ok(Status::Stopped),
            Err(EngineError::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => Ok(Status::Stopped),
            Err(e) => Err(failure("stopping the container", said(&e))),
        }
    }

    async fn remove(&self, instance: &Instance) -> Result<(), RuntimeError> {
        let name = Self::container_name(instance);
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.engine.remove_container(&name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(failure("removing the container", said(&e))),
        }
    }

    async fn observe(&self, instance: &Instance) -> Result<Observed, RuntimeError> {
        let name = Self::container_name(instance);
        let container = match self.engine.inspect_container(&name, None).await {
            Ok(c) => c,
            Err(e) if is_missing(&e) => {
                return Ok(Observed {
                    status: Status::Failed,
                    reason: Some("its container is gone".into()),
                    runtime_ref: None,
                });
            }
            Err(e) => return Err(failure("asking the engine", said(&e))),
        };
        let state = container.state.unwrap_or_default();
        let (status, reason) = match state.status {
            Some(
                ContainerStateStatusEnum::RUNNING
                | ContainerStateStatusEnum::RESTARTING
                | ContainerStateStatusEnum::PAUSED,
            ) => (Status::Running, None),
            Some(ContainerStateStatusEnum::CREATED) => (Status::Starting, None),
            _ if state.oom_killed == Some(true) => {
                (Status::Failed, Some("killed: out of memory".to_owned()))
            }
            _ => (
                Status::Failed,
                Some(
                    match (state.exit_code, state.error.filter(|e| !e.is_empty())) {
                        (_, Some(error)) => error,
                        (Some(code), None) => format!("exited with code {code}"),
                        (None, None) => "it is no longer running".to_owned(),
                    },
                ),
            ),
        };
        Ok(Observed {
            status,
            reason,
            runtime_ref: container.id,
        })
    }
}
