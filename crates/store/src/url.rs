//! `DATABASE_URL`, checked once: only `postgres://`, `postgresql://` and `sqlite:` URLs
//! are databases. Anything else (a typo such as `postgress://`, another database's
//! scheme, a bare word) is refused rather than opened as a new SQLite file named after
//! it, which would start a node that looks healthy on an empty database.

use std::fmt;

/// Which database, from the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Why a `DATABASE_URL` is refused. Its text never repeats the URL past its scheme, so
/// a password in a mistyped URL is not printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error(
        "DATABASE_URL has the scheme '{0}:'; use postgres://, postgresql:// (PostgreSQL) or sqlite:PATH (SQLite)"
    )]
    Scheme(String),
    #[error(
        "DATABASE_URL has no scheme; use postgres://, postgresql:// (PostgreSQL) or sqlite:PATH (SQLite)"
    )]
    NoScheme,
    #[error("DATABASE_URL names no SQLite file; use sqlite:PATH or sqlite://PATH")]
    NoPath,
    #[error("DATABASE_URL has sslmode={0}; use disable, prefer, require, verify-ca or verify-full")]
    SslMode(String),
    #[error("DATABASE_URL sets {0}, which is not supported (client certificates are not)")]
    Unsupported(String),
}

/// How the connection to PostgreSQL is protected, from `sslmode` (libpq's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslMode {
    /// `disable`, `allow`, `prefer` or none: plaintext. TLS is asked for explicitly.
    Plain,
    /// `require`: TLS; the certificate is checked against `sslrootcert` when given
    /// (as libpq does), otherwise not at all.
    Require,
    /// `verify-ca`: TLS, a certificate chain to `sslrootcert`.
    VerifyCa,
    /// `verify-full`: TLS, a chain to `sslrootcert` for the host named in the URL.
    VerifyFull,
}

/// A database URL whose scheme names a backend. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
    /// The URL as the PostgreSQL driver takes it: `sslmode` in its vocabulary,
    /// `sslrootcert` removed.
    driver: String,
    ssl: SslMode,
    root_cert: Option<std::path::PathBuf>,
}

impl DatabaseUrl {
    /// # Errors
    /// A URL that is neither `postgres://…`, `postgresql://…` nor `sqlite:PATH`.
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let raw = raw.trim();
        let scheme = match raw.split_once(':') {
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
            {
                scheme
            }
            _ => return Err(UrlError::NoScheme),
        };
        let backend = match scheme {
            "postgres" | "postgresql" if raw[scheme.len()..].starts_with("://") => {
                Backend::Postgres
            }
            "sqlite" => Backend::Sqlite,
            other => return Err(UrlError::Scheme(other.to_owned())),
        };
        let mut url = Self {
            raw: raw.to_owned(),
            backend,
            driver: raw.to_owned(),
            ssl: SslMode::Plain,
            root_cert: None,
        };
        match backend {
            Backend::Sqlite if url.sqlite_path().is_empty() => return Err(UrlError::NoPath),
            Backend::Sqlite => {}
            Backend::Postgres => url.read_ssl()?,
        }
        Ok(url)
    }

    /// Reads `sslmode` and `sslrootcert`, and writes the driver's URL without them.
    fn read_ssl(&mut self) -> Result<(), UrlError> {
        let Some((base, query)) = self.raw.split_once('?') else {
            return Ok(());
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => {
                    self.ssl = match v {
                        "disable" | "allow" | "prefer" => SslMode::Plain,
                        "require" => SslMode::Require,
                        "verify-ca" => SslMode::VerifyCa,
                        "verify-full" => SslMode::VerifyFull,
                        other => return Err(UrlError::SslMode(other.to_owned())),
                    };
                }
                "sslrootcert" => self.root_cert = Some(percent_decoded(v).into()),
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" => {
                    return Err(UrlError::Unsupported(k.to_owned()));
                }
                _ => kept.push(pair),
            }
        }
        if self.ssl != SslMode::Plain {
            kept.push("sslmode=require");
        }
        self.driver = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(())
    }

    /// How the connection is protected.
    pub fn ssl(&self) -> &SslMode {
        &self.ssl
    }

    /// The CA certificates `sslrootcert` names: the URL's, else libpq's default
    /// `~/.postgresql/root.crt` when it exists.
    pub fn root_cert(&self) -> Option<std::path::PathBuf> {
        self.root_cert.clone().or_else(|| {
            let home = std::env::var_os("HOME")?;
            let default = std::path::Path::new(&home).join(".postgresql/root.crt");
            default.exists().then_some(default)
        })
    }

    /// The URL as the PostgreSQL driver takes it (password included).
    pub fn driver_url(&self) -> &str {
        &self.driver
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as given, password included: for the driver only.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The SQLite file (`sqlite://PATH` or `sqlite:PATH`); empty on PostgreSQL.
    pub fn sqlite_path(&self) -> &str {
        if self.backend != Backend::Sqlite {
            return "";
        }
        self.raw
            .strip_prefix("sqlite://")
            .or_else(|| self.raw.strip_prefix("sqlite:"))
            .unwrap_or_default()
    }

    /// The URL with any password replaced, for messages.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.raw.split_once("://") else {
            return self.raw.clone();
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((user_info, host)) => {
                let user = user_info.split_once(':').map_or(user_info, |(u, _)| u);
                let masked = if user_info.contains(':') {
                    format!("{user}:…")
                } else {
                    user.to_owned()
                };
                let tail = redact_query(tail);
                format!("{scheme}://{masked}@{host}{tail}")
            }
            None => format!("{scheme}://{authority}{}", redact_query(tail)),
        }
    }
}

/// A `password=` query parameter, masked.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=…"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// `%XX` escapes decoded (a path in a query string may carry them).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, UrlError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_and_sqlite_urls_are_databases() {
        for (url, backend) in [
            ("postgres://u:p@h:5432/db", Backend::Postgres),
            ("postgresql://h/db?sslmode=require", Backend::Postgres),
            ("sqlite://data/hydracore.db", Backend::Sqlite),
            ("sqlite:hc.db", Backend::Sqlite),
            ("sqlite:///tmp/hc.db", Backend::Sqlite),
        ] {
            assert_eq!(DatabaseUrl::parse(url).unwrap().backend(), backend, "{url}");
        }
        for (url, error) in [
            (
                "postgress://u:secret@h/db",
                UrlError::Scheme("postgress".into()),
            ),
            ("mysql://x", UrlError::Scheme("mysql".into())),
            ("postgres:db", UrlError::Scheme("postgres".into())),
            ("bogus-no-scheme", UrlError::NoScheme),
            ("", UrlError::NoScheme),
            ("data/hc.db", UrlError::NoScheme),
            ("sqlite:", UrlError::NoPath),
            ("sqlite://", UrlError::NoPath),
        ] {
            let refused = DatabaseUrl::parse(url).unwrap_err();
            assert_eq!(refused, error, "{url}");
            assert!(!refused.to_string().contains("secret"));
        }
    }

    #[test]
    fn sslmode_is_read_and_the_driver_gets_its_own_vocabulary() {
        let url = DatabaseUrl::parse(
            "postgres://u@db:5432/hc?application_name=hc&sslmode=verify-full&sslrootcert=/etc/ca%20certs/ca.pem",
        )
        .unwrap();
        assert_eq!(url.ssl(), &SslMode::VerifyFull);
        assert_eq!(
            url.root_cert().unwrap(),
            std::path::PathBuf::from("/etc/ca certs/ca.pem")
        );
        assert_eq!(
            url.driver_url(),
            "postgres://u@db:5432/hc?application_name=hc&sslmode=require"
        );
        let plain = DatabaseUrl::parse("postgres://u@db/hc?sslmode=prefer").unwrap();
        assert_eq!(plain.ssl(), &SslMode::Plain);
        assert_eq!(plain.driver_url(), "postgres://u@db/hc");
        assert_eq!(
            DatabaseUrl::parse("postgres://h/db?sslmode=verify-ca")
                .unwrap()
                .ssl(),
            &SslMode::VerifyCa
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://h/db?sslmode=sometimes").unwrap_err(),
            UrlError::SslMode("sometimes".into())
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://h/db?sslmode=require&sslcert=/c.pem").unwrap_err(),
            UrlError::Unsupported("sslcert".into())
        );
    }

    #[test]
    fn paths_and_redaction() {
        let url = DatabaseUrl::parse("sqlite://data/hydracore.db").unwrap();
        assert_eq!(url.sqlite_path(), "data/hydracore.db");
        assert_eq!(
            DatabaseUrl::parse("sqlite:x.db").unwrap().sqlite_path(),
            "x.db"
        );
        let pg = DatabaseUrl::parse("postgres://app:s3cret@db:5432/hc?password=also&x=1").unwrap();
        assert_eq!(pg.redacted(), "postgres://app:…@db:5432/hc?password=…&x=1");
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert_eq!(
            pg.expose(),
            "postgres://app:s3cret@db:5432/hc?password=also&x=1"
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://h/db").unwrap().redacted(),
            "postgres://h/db"
        );
    }
}
