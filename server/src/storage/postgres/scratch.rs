//! Throwaway databases for tests and benchmarks: each gets its own, dropped afterwards, so no
//! run depends on what another left behind.

use std::sync::atomic::{AtomicU32, Ordering};

/// The server the scratch databases are made on: `MIXTAPE_TEST_POSTGRES`, or the local default.
pub fn admin_url() -> String {
    std::env::var("MIXTAPE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database created for one test and dropped (with its connections) when this is dropped.
pub struct ScratchDatabase {
    admin: String,
    name: String,
    url: String,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "PostgreSQL is not reachable at {url} ({source}); the tests need PostgreSQL 15 running there: \
     apt-get install postgresql-15, then pg_ctlcluster 15 main start (or set MIXTAPE_TEST_POSTGRES)"
)]
pub struct Unreachable {
    url: String,
    source: postgres::Error,
}

impl ScratchDatabase {
    /// Creates an empty database named after `label`, the process and a counter.
    pub fn create(label: &str) -> Result<Self, Unreachable> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let admin = admin_url();
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!(
            "mt_{label}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut client =
            postgres::Client::connect(&admin, postgres::NoTls).map_err(|source| Unreachable {
                url: admin.clone(),
                source,
            })?;
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .and_then(|()| client.batch_execute(&format!("CREATE DATABASE {name}")))
            .map_err(|source| Unreachable {
                url: admin.clone(),
                source,
            })?;
        let url = with_database(&admin, &name);
        Ok(Self { admin, name, url })
    }

    /// Like [`Self::create`], panicking with the install hint: for tests.
    pub fn for_test(label: &str) -> Self {
        Self::create(label).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `url` with its database path replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_replaces_the_path() {
        use super::with_database;
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://h:1/db?sslmode=disable", "y"),
            "postgres://h:1/y?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "z"), "postgres://h/z");
    }
}
