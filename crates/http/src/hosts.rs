//! DNS-rebinding protection for `/mcp`: the `Host` a request names must be one the
//! server answers to. Checked before authentication, so a refused request spends no
//! rate budget, and answered in the documented error shape.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::uri::Authority;
use actix_web::middleware::Next;

use crate::error::ApiError;

/// Host names (a bare name matches any port; `name:port` only that port). Empty: every
/// host is allowed (behind a proxy that checks).
#[derive(Debug, Clone, Default)]
pub struct HostAllowList(Arc<Vec<(String, Option<u16>)>>);

fn normalize(host: &str) -> String {
    host.trim_matches(['[', ']']).to_ascii_lowercase()
}

fn authority(text: &str) -> Option<(String, Option<u16>)> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(match text.parse::<Authority>() {
        Ok(a) => (normalize(a.host()), a.port_u16()),
        // A bare IPv6 address (`::1`) is no authority; it is a host.
        Err(_) => (normalize(text), None),
    })
}

impl HostAllowList {
    pub fn new(hosts: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        Self(Arc::new(
            hosts
                .into_iter()
                .filter_map(|h| authority(h.as_ref()))
                .collect(),
        ))
    }

    /// Whether a request naming `host` (its `Host` header, `None` when absent) is
    /// served.
    pub fn allows(&self, host: Option<&str>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some((name, port)) = host.and_then(authority) else {
            return false;
        };
        self.0
            .iter()
            .any(|(allowed, p)| *allowed == name && p.is_none_or(|p| Some(p) == port))
    }

    /// The middleware: 403 (`{"detail": …}`) for a host not on the list.
    ///
    /// # Errors
    /// Whatever the inner service fails with.
    pub async fn guard(
        self,
        req: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
        if self.allows(host.as_deref()) {
            return Ok(next.call(req).await?.map_into_left_body());
        }
        tracing::warn!("refused an MCP request naming a host not served (DNS rebinding?)");
        let res = actix_web::ResponseError::error_response(&ApiError::Forbidden(
            "This server does not serve MCP under the host this request names (HYDRACORE_MCP_ALLOWED_HOSTS)"
                .into(),
        ));
        Ok(req.into_response(res).map_into_right_body())
    }
}

#[cfg(test)]
mod tests {
    use super::HostAllowList;

    #[test]
    fn bare_names_match_any_port_and_ports_only_theirs() {
        let list = HostAllowList::new(["localhost", "127.0.0.1", "::1", "api.example.com:8443"]);
        for ok in [
            "localhost",
            "localhost:8000",
            "LOCALHOST:1",
            "127.0.0.1:8000",
            "[::1]:8000",
            "api.example.com:8443",
        ] {
            assert!(list.allows(Some(ok)), "{ok}");
        }
        for refused in ["evil.example", "api.example.com", "api.example.com:443", ""] {
            assert!(!list.allows(Some(refused)), "{refused}");
        }
        assert!(!list.allows(None));
        assert!(HostAllowList::new(Vec::<String>::new()).allows(Some("anything")));
    }
}
