//! TLS to PostgreSQL (rustls, with ring), as `sslmode` asks: `require` encrypts (and
//! checks the certificate chain when `sslrootcert` is given, as libpq does),
//! `verify-ca` checks the chain to `sslrootcert`, `verify-full` the chain and the host
//! name. Every connection uses it: the pool, the migrations, the key-change listener.

use std::sync::Arc;

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};

use crate::url::{DatabaseUrl, SslMode};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Encrypts without checking who answers (`sslmode=require` without a CA): the
/// handshake's signatures are still verified, so the session is the server's.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks the chain to the trusted CAs but not the host name (`verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("sslmode={0} needs the CA certificates in sslrootcert (or ~/.postgresql/root.crt)")]
    NoRootCert(&'static str),
    #[error("cannot read the CA certificates in {0}")]
    RootCert(String, #[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot set up TLS")]
    Config(#[source] Error),
}

/// The rustls configuration `url` asks for; `None` for a plaintext connection.
///
/// # Errors
/// A CA file that cannot be read, or a verifying mode without one.
pub fn client_config(url: &DatabaseUrl) -> Result<Option<Arc<ClientConfig>>, TlsError> {
    let mode = url.ssl();
    if *mode == SslMode::Plain {
        return Ok(None);
    }
    let roots = match url.root_cert() {
        Some(path) => {
            let read = |e: Box<dyn std::error::Error + Send + Sync>| {
                TlsError::RootCert(path.display().to_string(), e)
            };
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(&path).map_err(|e| read(Box::new(e)))? {
                roots
                    .add(cert.map_err(|e| read(Box::new(e)))?)
                    .map_err(|e| read(Box::new(e)))?;
            }
            if roots.is_empty() {
                return Err(read("no certificate in it".into()));
            }
            Some(Arc::new(roots))
        }
        None => None,
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
        (SslMode::Require | SslMode::Plain, None) => Arc::new(EncryptOnly(provider())),
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(TlsError::NoRootCert(if *mode == SslMode::VerifyCa {
                "verify-ca"
            } else {
                "verify-full"
            }));
        }
        (SslMode::VerifyFull, Some(roots)) => {
            WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| TlsError::Config(Error::General(e.to_string())))?
        }
        (_, Some(roots)) => Arc::new(ChainOnly(
            WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| TlsError::Config(Error::General(e.to_string())))?,
        )),
    };
    Ok(Some(Arc::new(
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    )))
}

/// A connection as `url` asks: through `tls` when given, plaintext otherwise.
///
/// # Errors
/// When the server cannot be reached or the handshake fails.
pub async fn connect(
    url: &str,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<AsyncPgConnection, ConnectionError> {
    use diesel_async::AsyncConnection;
    match tls {
        None => AsyncPgConnection::establish(url).await,
        Some(config) => {
            let connector = tokio_postgres_rustls::MakeRustlsConnect::new((**config).clone());
            let (client, connection) = tokio_postgres::connect(url, connector)
                .await
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            AsyncPgConnection::try_from_client_and_connection(client, connection).await
        }
    }
}
