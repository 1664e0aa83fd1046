//! A small SMTP server on loopback for tests (greeting, EHLO with AUTH, AUTH PLAIN,
//! MAIL/RCPT/DATA with dot-terminated data, QUIT) that can refuse the login, be busy, or go
//! away in the middle of a message. It keeps what it received.

use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Takes every message.
    Accept,
    /// Refuses every login (535).
    RefuseLogin,
    /// Answers MAIL FROM with 451 (try later).
    Busy,
    /// Closes the connection in the middle of DATA.
    HangUpInData,
}

/// One message received.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// The AUTH PLAIN credentials, `\0` shown as `|`.
    pub login: Option<String>,
    /// MAIL FROM.
    pub from: String,
    /// RCPT TO, each.
    pub to: Vec<String>,
    /// The message, dot-unstuffed.
    pub data: String,
}

/// A running server.
#[derive(Debug)]
pub struct Smtp {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// What it received.
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Smtp {
    /// Starts a server behaving as `behaviour`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, behaviour, store.clone()));
            }
        });
        Self { port, received }
    }

    /// What it received so far.
    ///
    /// # Panics
    /// When a session panicked holding the list.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    behaviour: Behaviour,
    received: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 mock.example ESMTP ready\r\n").await?;
    let mut current = Received::default();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-mock.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if let Some(rest) = upper.strip_prefix("AUTH PLAIN") {
            let encoded = if rest.trim().is_empty() {
                write.write_all(b"334 \r\n").await?;
                lines.next_line().await?.unwrap_or_default()
            } else {
                line[10..].trim().to_owned()
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .unwrap_or_default();
            current.login = Some(String::from_utf8_lossy(&decoded).replace('\0', "|"));
            if behaviour == Behaviour::RefuseLogin {
                b"535 5.7.8 Authentication credentials invalid\r\n"
            } else {
                b"235 2.7.0 Authentication successful\r\n"
            }
        } else if upper.starts_with("MAIL FROM:") {
            current.from = line[10..].trim().to_owned();
            if behaviour == Behaviour::Busy {
                b"451 4.3.0 Mail server temporarily busy, try again later\r\n"
            } else {
                b"250 2.1.0 OK\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            current.to.push(line[8..].trim().to_owned());
            b"250 2.1.5 OK\r\n"
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            if behaviour == Behaviour::HangUpInData {
                let _ = lines.next_line().await?;
                return Ok(());
            }
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            current.data = data;
            received.lock().unwrap().push(std::mem::take(&mut current));
            b"250 2.0.0 Ok: queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            b"250 2.0.0 OK\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
