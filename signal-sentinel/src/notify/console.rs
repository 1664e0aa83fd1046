use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::{Notifier, NotifyError, OutgoingMessage};
use crate::domain::{ChannelKind, NotificationChannel};

/// Writes each message as a line to a writer (standard output by default): for demos and
/// trials.
#[derive(Clone)]
pub struct ConsoleNotifier {
    out: Arc<Mutex<dyn Write + Send>>,
}

impl std::fmt::Debug for ConsoleNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleNotifier")
    }
}

impl Default for ConsoleNotifier {
    fn default() -> Self {
        Self::new(std::io::stdout())
    }
}

impl ConsoleNotifier {
    /// Writes to `out`.
    pub fn new(out: impl Write + Send + 'static) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
        }
    }
}

#[async_trait]
impl Notifier for ConsoleNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Console
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        writeln!(out, "[{}] {}", channel.name, message.text)
            .and_then(|()| out.flush())
            .map_err(|e| NotifyError::Retry {
                message: format!("cannot write to the console: {e}"),
                after: None,
            })
    }
}
