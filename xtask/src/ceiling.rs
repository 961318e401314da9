//! The database's own ceiling for a route: the statements our server really sends for
//! it, read from PostgreSQL's statement log while a few requests run one at a time,
//! replayed with `pgbench -M prepared` over as many clients as the server's pool.
//!
//! Each captured request becomes one pgbench script (pgbench picks one at random per
//! transaction), so a transaction is a request and pgbench's tps is the requests per
//! second PostgreSQL could serve for that route. A value a write sends that no other
//! captured request sends (a new id, a unique name) becomes a fresh one per transaction;
//! everything else is replayed as sent.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::bench::{admin_sql, output};

/// Connections in the server's pool during the bench, and pgbench's clients.
pub(crate) const POOL: usize = 16;

/// One statement as PostgreSQL logged it: its text with `$n` placeholders and the
/// values bound to them (`None` for NULL).
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub(crate) sql: String,
    pub(crate) params: Vec<Option<String>>,
}

/// Turns the server's statement log on for as long as it lives (for every database:
/// `ALTER SYSTEM` and a reload reach the pool's open sessions; the capture keeps only
/// the bench database's lines).
struct Logging;

impl Logging {
    fn on() -> Result<Self> {
        admin_sql("ALTER SYSTEM SET log_statement = 'all'")?;
        admin_sql("SELECT pg_reload_conf()")?;
        // The reload reaches each backend when it next reads a command.
        std::thread::sleep(std::time::Duration::from_millis(300));
        Ok(Self)
    }
}

impl Drop for Logging {
    fn drop(&mut self) {
        let _ = admin_sql("ALTER SYSTEM RESET log_statement");
        let _ = admin_sql("SELECT pg_reload_conf()");
    }
}

/// Where the local server writes its log: `pg_current_logfile()` with the logging
/// collector, otherwise the cluster's file as `pg_lsclusters` (Debian) names it.
fn log_file() -> Result<PathBuf> {
    let current = output(Command::new("psql").args([
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-Atc",
        "SELECT coalesce(current_setting('data_directory') || '/' || pg_current_logfile(), '')",
    ]))?;
    if !current.trim().is_empty() {
        return Ok(PathBuf::from(current.trim()));
    }
    let clusters = output(Command::new("pg_lsclusters").arg("--no-header"))
        .context("finding PostgreSQL's log file (no logging collector, no pg_lsclusters)")?;
    clusters
        .lines()
        .map(str::split_whitespace)
        .filter_map(|mut cols| {
            let port = cols.nth(2)?;
            (port == "5432").then(|| cols.last().map(PathBuf::from))?
        })
        .next()
        .context("pg_lsclusters lists no cluster on port 5432")
}

/// Sends `requests` one at a time, each followed by a marker statement, and returns
/// the statements the bench database received for each request.
pub(crate) fn capture(
    dbname: &str,
    db_url: &str,
    requests: &mut dyn Iterator<Item = Box<dyn FnOnce() -> Result<()>>>,
) -> Result<Vec<Vec<Sent>>> {
    const MARK: &str = "SELECT 'hydracore-bench-mark'";
    let path = log_file()?;
    let start = std::fs::metadata(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    {
        let _logging = Logging::on()?;
        output(Command::new("psql").args([db_url, "-X", "-qc", MARK]))?;
        for send in requests {
            send()?;
            output(Command::new("psql").args([db_url, "-X", "-qc", MARK]))?;
        }
    }
    let mut text = String::new();
    let mut file = std::fs::File::open(&path)?;
    file.seek(SeekFrom::Start(start))?;
    file.read_to_string(&mut text)?;
    let own = format!("@{dbname} ");
    let mut requests: Vec<Vec<Sent>> = Vec::new();
    let mut current: Option<Vec<Sent>> = None;
    for line in text.lines().filter(|l| l.contains(&own)) {
        let Some((_, rest)) = line.split_once(&own) else {
            continue;
        };
        if let Some(sql) = rest.strip_prefix("LOG:  statement: ") {
            if sql == MARK {
                if let Some(done) = current.take() {
                    requests.push(done);
                }
                current = Some(Vec::new());
            } else if let Some(c) = current.as_mut() {
                c.push(Sent {
                    sql: sql.to_owned(),
                    params: Vec::new(),
                });
            }
        } else if let Some(exec) = rest.strip_prefix("LOG:  execute ") {
            let sql = exec.split_once(": ").map_or(exec, |(_, s)| s);
            if let Some(c) = current.as_mut() {
                c.push(Sent {
                    sql: sql.to_owned(),
                    params: Vec::new(),
                });
            }
        } else if let Some(params) = rest.strip_prefix("DETAIL:  parameters: ")
            && let Some(last) = current.as_mut().and_then(|c| c.last_mut())
        {
            last.params = parse_params(params)?;
        }
    }
    if requests.is_empty() || requests.iter().all(Vec::is_empty) {
        bail!(
            "{} shows no statement of database {dbname}: is log_line_prefix's %d there?",
            path.display()
        );
    }
    Ok(requests)
}

/// `$1 = 'a', $2 = NULL, $3 = 'it''s'` → the values in order.
fn parse_params(s: &str) -> Result<Vec<Option<String>>> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (_, after) = rest.split_once(" = ").context("a parameter without `=`")?;
        if let Some(after_null) = after.strip_prefix("NULL") {
            out.push(None);
            rest = after_null.trim_start_matches(", ");
            continue;
        }
        let body = after.strip_prefix('\'').context("a parameter not quoted")?;
        let mut value = String::new();
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                    value.push('\'');
                } else {
                    end = Some(i + 1);
                    break;
                }
            } else {
                value.push(c);
            }
        }
        let end = end.context("a parameter's quote never closes")?;
        out.push(Some(value));
        rest = body[end..].trim_start_matches(", ");
    }
    Ok(out)
}

/// Drops the statements fewer than a quarter of the requests sent: work of the node's
/// own (a background task's query, a cached key read again as its entry expires) that
/// happened to fall between two markers, not part of a request at steady state. A
/// statement counts once per request that sent it: a background batch (the usage
/// flush upserts one row per key) sends the same statement many times in one gap.
pub(crate) fn steady(requests: &[Vec<Sent>]) -> Vec<Vec<Sent>> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in requests {
        let sent: BTreeSet<&str> = r.iter().map(|s| s.sql.as_str()).collect();
        for sql in sent {
            *counts.entry(sql).or_default() += 1;
        }
    }
    let rare = |sql: &str| counts.get(sql).copied().unwrap_or(0) * 4 < requests.len();
    requests
        .iter()
        .map(|r| r.iter().filter(|s| !rare(&s.sql)).cloned().collect())
        .collect()
}

/// What a route's captured requests sent, as shown in the bench's output.
pub(crate) fn describe(requests: &[Vec<Sent>]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in requests.iter().flatten() {
        *counts.entry(s.sql.as_str()).or_default() += 1;
    }
    let n = requests.len().max(1);
    counts
        .iter()
        .map(|(sql, c)| {
            let short: String = sql.chars().take(90).collect();
            format!("    {:.2} per request: {short}…", *c as f64 / n as f64)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':'
}

fn is_uuid(v: &str) -> bool {
    v.len() == 36 && v.chars().filter(|c| *c == '-').count() == 4
}

/// Writes one pgbench script per captured request into `dir`; returns their paths.
pub(crate) fn scripts(requests: &[Vec<Sent>], dir: &Path, mode: &str) -> Result<Vec<PathBuf>> {
    // How many captured requests sent each value in a write.
    let mut seen: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, req) in requests.iter().enumerate() {
        for s in req.iter().filter(|s| s.sql.contains("INSERT")) {
            for v in s.params.iter().flatten() {
                seen.entry(v).or_default().insert(i);
            }
        }
    }
    let fresh = |v: &str| {
        requests.len() > 1
            && seen.get(v).is_some_and(|r| r.len() == 1)
            && !is_timestamp(v)
            && !v.is_empty()
    };
    let mut paths = Vec::new();
    for (i, req) in requests.iter().enumerate() {
        if req.is_empty() {
            continue;
        }
        let mut vars: BTreeMap<&str, usize> = BTreeMap::new();
        let mut body = String::new();
        for s in req {
            let mut literals = Vec::with_capacity(s.params.len());
            for v in &s.params {
                literals.push(match v {
                    None => "NULL".to_owned(),
                    Some(v) if fresh(v) => {
                        let next = vars.len();
                        let k = *vars.entry(v).or_insert(next);
                        if is_uuid(v) {
                            format!("md5(:client_id::text || '-' || :r{k}::text)::uuid")
                        } else {
                            format!("('b' || :client_id::text || '-' || :r{k}::text)")
                        }
                    }
                    Some(v) => format!("'{}'", v.replace('\'', "''")),
                });
            }
            let sql = substitute(&s.sql, &literals)?;
            body.push_str(&sql);
            body.push_str(";\n");
        }
        let mut script = String::new();
        for k in 0..vars.len() {
            script.push_str(&format!("\\set r{k} random(1, 1000000000000)\n"));
        }
        script.push_str(&body);
        let path = dir.join(format!("own-{mode}-{i}.sql"));
        std::fs::write(&path, script)?;
        paths.push(path);
    }
    Ok(paths)
}

/// `sql` with each `$n` replaced by `literals[n - 1]`, in one pass (a value may hold a
/// `$`).
fn substitute(sql: &str, literals: &[String]) -> Result<String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len() - at - 1, |e| e);
        if digits == 0 {
            out.push('$');
            rest = &rest[at + 1..];
            continue;
        }
        let n: usize = rest[at + 1..at + 1 + digits].parse()?;
        out.push_str(
            literals
                .get(n.wrapping_sub(1))
                .with_context(|| format!("${n} has no value"))?,
        );
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    Ok(out)
}

/// pgbench's tps for `scripts` (one picked at random per transaction), prepared
/// statements, as many clients as the server's pool.
pub(crate) fn replay(scripts: &[PathBuf], dbname: &str, seconds: u64) -> Result<f64> {
    crate::bench::pgbench(scripts, dbname, "prepared", seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_of_a_few_requests_are_not_replayed() {
        let sent = |sql: &str| Sent {
            sql: sql.into(),
            params: Vec::new(),
        };
        let mut requests = vec![vec![sent("SELECT a")]; 8];
        requests[3].push(sent("SELECT 1"));
        let kept = steady(&requests);
        assert!(kept.iter().all(|r| r.len() == 1 && r[0].sql == "SELECT a"));
    }

    #[test]
    fn a_background_batch_in_one_gap_is_not_replayed() {
        let sent = |sql: &str| Sent {
            sql: sql.into(),
            params: Vec::new(),
        };
        let mut requests = vec![vec![sent("SELECT a")]; 20];
        // The usage flush: one upsert per key, ten keys, all between two markers.
        requests[7].extend(std::iter::repeat_n(sent("INSERT INTO usage …"), 10));
        let kept = steady(&requests);
        assert!(kept.iter().all(|r| r.len() == 1 && r[0].sql == "SELECT a"));
    }

    #[test]
    fn parameters_with_quotes_and_nulls() {
        let p = parse_params("$1 = 'a', $2 = NULL, $3 = 'it''s, here', $4 = ''").unwrap();
        assert_eq!(
            p,
            vec![
                Some("a".into()),
                None,
                Some("it's, here".into()),
                Some(String::new())
            ]
        );
    }

    #[test]
    fn values_new_to_one_write_become_fresh() {
        let req = |id: &str, name: &str| {
            vec![Sent {
                sql: "INSERT INTO t (id, tenant, name, at, ref) VALUES ($1, $2, $3, $4, $5)".into(),
                params: vec![
                    Some(id.into()),
                    Some("11111111-1111-1111-1111-111111111111".into()),
                    Some(name.into()),
                    Some("2026-12-06 01:09:32.454601+00".into()),
                    Some(id.into()),
                ],
            }]
        };
        let dir = std::env::temp_dir().join(format!("ceiling-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths = scripts(
            &[
                req("aaaaaaaa-1111-1111-1111-111111111111", "a"),
                req("bbbbbbbb-1111-1111-1111-111111111111", "b"),
            ],
            &dir,
            "post",
        )
        .unwrap();
        let text = std::fs::read_to_string(&paths[0]).unwrap();
        assert_eq!(
            text,
            "\\set r0 random(1, 1000000000000)\n\\set r1 random(1, 1000000000000)\n\
             INSERT INTO t (id, tenant, name, at, ref) VALUES (\
             md5(:client_id::text || '-' || :r0::text)::uuid, \
             '11111111-1111-1111-1111-111111111111', \
             ('b' || :client_id::text || '-' || :r1::text), \
             '2026-12-06 01:09:32.454601+00', \
             md5(:client_id::text || '-' || :r0::text)::uuid);\n"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
