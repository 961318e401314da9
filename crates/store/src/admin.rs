//! Creating and dropping whole PostgreSQL databases, so every test run gets its own.

use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DatabaseUrl;

/// Why a database could not be created or dropped.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot connect to {0}")]
    Connect(String, #[source] diesel::ConnectionError),
    #[error("statement failed")]
    Query(#[from] diesel::result::Error),
    #[error("not a postgres:// URL: {0}")]
    Url(String),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// A connection to `admin_url`, protected as its `sslmode` asks.
async fn connect(admin_url: &str) -> Result<AsyncPgConnection, AdminError> {
    let url = DatabaseUrl::parse(admin_url).map_err(|e| AdminError::Url(e.to_string()))?;
    let tls = crate::tls::client_config(&url)?;
    crate::tls::connect(url.driver_url(), tls.as_ref())
        .await
        .map_err(|e| AdminError::Connect(url.redacted(), e))
}

/// Replaces the database name of a `postgres://…/name?…` URL.
///
/// # Errors
/// A URL without a path.
pub fn with_database(url: &str, database: &str) -> Result<String, AdminError> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base
        .find("://")
        .ok_or_else(|| AdminError::Url(url.into()))?
        + 3;
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), AdminError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(AdminError::Url(format!("unsafe database name {name}")));
    }
    Ok(())
}

/// Creates database `name` on the server of `admin_url` and returns its URL.
///
/// # Errors
/// When the server cannot be reached or refuses.
pub async fn create_database(admin_url: &str, name: &str) -> Result<String, AdminError> {
    check_name(name)?;
    let mut conn = connect(admin_url).await?;
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    with_database(admin_url, name)
}

/// Drops database `name`, closing any connection still open to it.
///
/// # Errors
/// When the server cannot be reached or refuses.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), AdminError> {
    check_name(name)?;
    let mut conn = connect(admin_url).await?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Every row of every table of the database at `url`, as text: `pg_dump --data-only`,
/// with each `bytea` value (`\x…` hex in the dump) also decoded and appended, so a
/// test that looks for a secret finds one kept in a binary column too.
///
/// # Errors
/// When `pg_dump` cannot be run or fails.
pub fn data_as_text(url: &str) -> std::io::Result<String> {
    let out = std::process::Command::new("pg_dump")
        .args(["--data-only", "--no-owner", url])
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    let dump = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut decoded = Vec::new();
    let bytes = dump.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' && bytes[i + 1] == b'x' {
            let mut end = i + 2;
            while end + 1 < bytes.len()
                && bytes[end].is_ascii_hexdigit()
                && bytes[end + 1].is_ascii_hexdigit()
            {
                let pair = std::str::from_utf8(&bytes[end..end + 2]).unwrap_or("00");
                decoded.push(u8::from_str_radix(pair, 16).unwrap_or(0));
                end += 2;
            }
            decoded.push(b'\n');
            i = end;
        } else {
            i += 1;
        }
    }
    Ok(dump + &String::from_utf8_lossy(&decoded))
}
