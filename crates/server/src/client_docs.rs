//! Fetching OAuth client metadata documents: the client id is an https URL, and the
//! server reads the JSON there. A URL anyone can hand the server is a way into the
//! network it runs in, so the fetch is held short: https only, no redirects, five
//! seconds, 16 KiB, and only to public addresses (every address a name resolves to is
//! checked, at connection time) unless an operator allows private ones for tests.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hydracore_auth::oauth::{ClientDocument, ClientDocuments};
use serde::Deserialize;
use ureq::Agent;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// The largest document read.
const MAX_BYTES: u64 = 16 * 1024;

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

/// The system resolver, refusing names that resolve to any non-public address.
#[derive(Debug)]
struct PublicOnly {
    allow_private: bool,
}

impl Resolver for PublicOnly {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        if !self.allow_private && addrs.iter().any(|a: &SocketAddr| !is_public(a.ip())) {
            return Err(ureq::Error::BadUri(format!(
                "{} resolves to a private or loopback address",
                uri.host().unwrap_or_default()
            )));
        }
        Ok(addrs)
    }
}

/// The fetcher over ureq.
pub struct HttpClientDocuments {
    agent: Agent,
    allow_private: bool,
}

impl HttpClientDocuments {
    /// Trusts the public web's roots, or only the PEM certificates of `ca` when given
    /// (a private deployment's or a test's).
    ///
    /// # Errors
    /// A `ca` with no certificate in it.
    pub fn new(ca: Option<&[u8]>, allow_private: bool) -> anyhow::Result<Self> {
        let roots = match ca {
            None => RootCerts::WebPki,
            Some(pem) => {
                let certs: Vec<_> = ureq::tls::parse_pem(pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                anyhow::ensure!(
                    !certs.is_empty(),
                    "HYDRACORE_OAUTH_CLIENT_DOCUMENT_CA holds no PEM certificate"
                );
                RootCerts::Specific(Arc::new(certs))
            }
        };
        let config = Config::builder()
            .https_only(true)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .user_agent("hydracore")
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build();
        Ok(Self {
            agent: Agent::with_parts(
                config,
                DefaultConnector::default(),
                PublicOnly { allow_private },
            ),
            allow_private,
        })
    }
}

/// The fields of a client metadata document the server reads.
#[derive(Deserialize)]
struct Document {
    client_id: String,
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
}

fn fetch(agent: &Agent, allow_private: bool, url: &str) -> Result<ClientDocument, String> {
    let uri: Uri = url.parse().map_err(|_| "not a URL".to_owned())?;
    if let Some(ip) = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        && !allow_private
        && !is_public(ip)
    {
        return Err("it is at a private or loopback address".into());
    }
    let mut res = agent.get(url).call().map_err(|e| match e {
        ureq::Error::BadUri(why) => why,
        ureq::Error::Timeout(_) => "it took longer than 5 seconds".into(),
        ureq::Error::TooManyRedirects => "it redirects; the document must be at its URL".into(),
        other => format!("it could not be fetched ({other})"),
    })?;
    if res.status() != 200 {
        return Err(format!("it answered HTTP {}", res.status().as_u16()));
    }
    let body = res
        .body_mut()
        .with_config()
        .limit(MAX_BYTES)
        .read_to_vec()
        .map_err(|_| format!("it is larger than {MAX_BYTES} bytes"))?;
    let doc: Document = serde_json::from_slice(&body)
        .map_err(|e| format!("it is not a client metadata document ({e})"))?;
    Ok(ClientDocument {
        client_id: doc.client_id,
        client_name: doc.client_name,
        redirect_uris: doc.redirect_uris,
        token_endpoint_auth_method: doc.token_endpoint_auth_method,
    })
}

#[async_trait]
impl ClientDocuments for HttpClientDocuments {
    async fn fetch(&self, url: &str) -> Result<ClientDocument, String> {
        let agent = self.agent.clone();
        let allow_private = self.allow_private;
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || fetch(&agent, allow_private, &url))
            .await
            .map_err(|_| "the fetch failed".to_owned())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.215.14", "2606:4700::6810:84e5", "1.1.1.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_document_at_a_private_address_is_refused_before_any_connection() {
        let docs = HttpClientDocuments::new(None, false).unwrap();
        for url in [
            "https://127.0.0.1:9/client.json",
            "https://[::1]:9/client.json",
            "https://localhost:9/client.json",
            "https://169.254.169.254/latest/meta-data",
        ] {
            let err = docs.fetch(url).await.unwrap_err();
            assert!(err.contains("private or loopback"), "{url}: {err}");
        }
    }
}
