//! What the test suites of the library, the HTTP server and the CLI share: a PostgreSQL
//! database of one test's own, created next to `SIGNAL_SENTINEL_TEST_POSTGRES_URL` and dropped
//! when the test ends (also when it panics), and a small SMTP server ([`smtp`]).

pub mod smtp;

use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database};

/// The variable that names the PostgreSQL server tests may use (`.ci/run` sets it when one
/// answers).
pub const POSTGRES_URL_VAR: &str = "SIGNAL_SENTINEL_TEST_POSTGRES_URL";

/// A database of one test's own; dropped with this value.
#[derive(Debug)]
pub struct TempPostgres {
    admin_url: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl TempPostgres {
    /// A fresh database named `PREFIX_PID_N_RANDOM`, or `None` (saying so on stderr) when
    /// [`POSTGRES_URL_VAR`] is not set.
    ///
    /// # Panics
    /// When the server named cannot be reached or refuses to create the database.
    pub async fn create(prefix: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            eprintln!(
                "skipped: {POSTGRES_URL_VAR} is not set, so this PostgreSQL test did not run"
            );
            return None;
        };
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}_{}_{}_{:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let admin = Database::connect(&admin_url)
            .await
            .expect("connect to the PostgreSQL test server");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("a URL in the variable");
        url.set_path(&name);
        Some(Self {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    /// [`TempPostgres::create`] for a test without a runtime of its own.
    pub fn create_blocking(prefix: &str) -> Option<Self> {
        let prefix = prefix.to_owned();
        on_own_runtime(async move { Self::create(&prefix).await })
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = on_own_runtime(async move {
            let admin = Database::connect(&admin_url).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin.close().await
        });
        // Never a panic here: a drop during a failing test's unwinding would abort.
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// Runs `work` on a thread with a runtime of its own: callable from inside a test's runtime,
/// which cannot be blocked on, and from a test without one.
fn on_own_runtime<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> std::thread::Result<T> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(work)
    })
    .join()
}
