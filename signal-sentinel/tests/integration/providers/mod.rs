//! The real providers against local mock servers answering as the services do.

mod alpaca;
mod alpaca_stream;
mod chain;
mod events;
mod finnhub;
mod finnhub_stream;
mod minute_bars;
mod ws_server;
mod yahoo;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signal_sentinel::domain::Symbol;

/// Log lines written while a test runs (at trace level), to check that no key appears.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

pub(crate) struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter(self.0.clone())
    }
}

impl Logs {
    /// Captures this thread's logs until the guard is dropped.
    pub(crate) fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

pub(crate) fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

pub(crate) fn dec(s: &str) -> rust_decimal::Decimal {
    s.parse().unwrap()
}

pub(crate) fn base(server: &wiremock::MockServer) -> url::Url {
    url::Url::parse(&server.uri()).unwrap()
}

/// Short enough for a test of timeouts, long enough for a loaded machine.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(2);
