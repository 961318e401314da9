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
}

/// A database URL whose scheme names a backend. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
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
        let url = Self {
            raw: raw.to_owned(),
            backend,
        };
        if backend == Backend::Sqlite && url.sqlite_path().is_empty() {
            return Err(UrlError::NoPath);
        }
        Ok(url)
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
