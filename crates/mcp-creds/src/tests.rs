use std::sync::Arc;

use hydracore_core::SystemClock;
use hydracore_tenants::TenantId;

use super::testing::InMemoryMcpCredentials;
use super::*;
use hydracore_core::audit::Who;

fn service() -> (CredentialService, Arc<InMemoryMcpCredentials>) {
    let repo = Arc::new(InMemoryMcpCredentials::default());
    let cipher = Cipher::new("k1", &[7u8; 32], &[]).unwrap();
    (
        CredentialService::new(repo.clone(), Arc::new(cipher), Arc::new(SystemClock)),
        repo,
    )
}

fn req(kind: &str, header: Option<&str>) -> CreateCredential {
    CreateCredential {
        name: "github".into(),
        server_url: "https://mcp.example.com/sse".into(),
        auth_kind: kind.into(),
        header_name: header.map(str::to_owned),
        secret: "ghp_supersecretvalue1234".into(),
    }
}

#[tokio::test]
async fn secrets_are_sealed_and_only_revealed_to_the_runtime() {
    let (svc, repo) = service();
    let t = TenantId::new();
    let c = svc
        .create(t, &Who::ops(), req("bearer", None))
        .await
        .unwrap();
    assert_eq!(c.secret_hint, "1234");
    let (_, sealed) = repo.find_sealed(t, c.id).await.unwrap().unwrap();
    assert!(!sealed.ciphertext.windows(8).any(|w| w == b"supersec"));
    assert_eq!(
        svc.reveal(t, c.id).await.unwrap(),
        "ghp_supersecretvalue1234"
    );
    assert!(matches!(
        svc.reveal(TenantId::new(), c.id).await,
        Err(CredentialError::NotFound)
    ));
    assert!(!format!("{:?}", req("bearer", None)).contains("supersecret"));
}

#[test]
fn a_ciphertext_moved_to_another_row_does_not_open() {
    let cipher = Cipher::new("k1", &[7u8; 32], &[]).unwrap();
    let sealed = cipher.seal(b"secret", b"row-a").unwrap();
    assert_eq!(cipher.open(&sealed, b"row-a").unwrap(), b"secret");
    assert_eq!(cipher.open(&sealed, b"row-b"), Err(CipherError::Open));
    let rotated = Cipher::new("k2", &[9u8; 32], &[("k1".into(), vec![7u8; 32])]).unwrap();
    assert_eq!(rotated.open(&sealed, b"row-a").unwrap(), b"secret");
    assert_eq!(rotated.seal(b"x", b"r").unwrap().key_id, "k2");
    assert!(Cipher::new("k", &[1u8; 31], &[]).is_err());
}

#[tokio::test]
async fn validates_kind_header_and_url() {
    let (svc, _) = service();
    let t = TenantId::new();
    for (r, field) in [
        (req("header", None), "header_name"),
        (req("bearer", Some("X-Token")), "header_name"),
        (req("basic", None), "auth_kind"),
        (req("header", Some("bad header")), "header_name"),
        (
            CreateCredential {
                server_url: "ftp://x".into(),
                ..req("bearer", None)
            },
            "server_url",
        ),
        (
            CreateCredential {
                server_url: "https://user:pw@x".into(),
                ..req("bearer", None)
            },
            "server_url",
        ),
        (
            CreateCredential {
                secret: String::new(),
                ..req("bearer", None)
            },
            "secret",
        ),
    ] {
        match svc.create(t, &Who::ops(), r).await {
            Err(CredentialError::Invalid(v)) => assert_eq!(v.field, vec![field.to_owned()]),
            other => panic!("{field}: {other:?}"),
        }
    }
    let ok = svc
        .create(t, &Who::ops(), req("header", Some("X-Api-Token")))
        .await
        .unwrap();
    assert_eq!(ok.auth.header_name(), Some("X-Api-Token"));
    assert!(matches!(
        svc.create(t, &Who::ops(), req("bearer", None)).await,
        Err(CredentialError::Duplicate(_))
    ));
}
