//! The chat-completions client (feature `openai`): any OpenAI-compatible server.

use std::time::Duration;

use async_trait::async_trait;

use super::{Facts, Summarizer, SummaryError};
use crate::Secret;

/// Settings of the chat-completions client.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// `OPENAI_BASE_URL`, e.g. `https://api.openai.com/v1` or a local server's.
    pub base_url: url::Url,
    /// `OPENAI_API_KEY`.
    pub api_key: Secret,
    /// `OPENAI_MODEL`.
    pub model: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries after a 429 or 5xx.
    pub retries: u32,
    /// Longest wait honoured from `Retry-After`.
    pub max_retry_wait: Duration,
    /// Tokens the model may write.
    pub max_tokens: u32,
    /// Characters kept of its answer.
    pub max_chars: usize,
}

impl OpenAiConfig {
    /// Defaults around a base URL, key and model: 20 s timeout, 2 retries, waits up to 10 s,
    /// 120 tokens, 500 characters.
    pub fn new(base_url: url::Url, api_key: Secret, model: impl Into<String>) -> Self {
        Self {
            base_url,
            api_key,
            model: model.into(),
            timeout: Duration::from_secs(20),
            retries: 2,
            max_retry_wait: Duration::from_secs(10),
            max_tokens: 120,
            max_chars: 500,
        }
    }
}

/// A client of `POST {base}/chat/completions`.
#[derive(Debug)]
pub struct OpenAiSummarizer {
    client: reqwest::Client,
    config: OpenAiConfig,
}

impl OpenAiSummarizer {
    /// A client for `config`.
    ///
    /// # Errors
    /// [`BuildError::HttpClient`](crate::BuildError::HttpClient).
    pub fn new(config: OpenAiConfig) -> Result<Self, crate::BuildError> {
        let client = crate::market::http_client(config.timeout, &config.base_url)?;
        Ok(Self { client, config })
    }

    fn endpoint(&self) -> String {
        format!(
            "{}/chat/completions",
            self.config.base_url.as_str().trim_end_matches('/')
        )
    }
}

/// The error message in OpenAI's error shape `{"error": {"message", "type", "code"}}`.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "no error message".to_owned())
}

#[async_trait]
impl Summarizer for OpenAiSummarizer {
    fn name(&self) -> &str {
        "openai"
    }

    async fn summarize(&self, facts: &dyn Facts) -> Result<String, SummaryError> {
        let body = serde_json::json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": facts.instructions()},
                {"role": "user", "content": facts.to_prompt()},
            ],
            "max_tokens": self.config.max_tokens,
            "temperature": 0.2,
        });
        let content = self.chat(&body).await?;
        let mut summary: String = content.chars().take(self.config.max_chars).collect();
        if summary.len() < content.len() {
            summary.push('…');
        }
        Ok(summary)
    }

    async fn complete_json(
        &self,
        instructions: &str,
        prompt: &str,
        schema: &serde_json::Value,
    ) -> Result<String, SummaryError> {
        // Structured output where the server has it; a server that refuses the parameter
        // (HTTP 400 naming `response_format`) is asked again with the JSON-only prompt alone.
        let mut body = serde_json::json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": instructions},
                {"role": "user", "content": prompt},
            ],
            "max_tokens": JSON_MAX_TOKENS,
            "temperature": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "strict": true, "schema": schema},
            },
        });
        match self.chat(&body).await {
            Err(SummaryError::Refused(why)) if why.contains("response_format") => {
                if let Some(o) = body.as_object_mut() {
                    o.remove("response_format");
                }
                self.chat(&body).await
            }
            other => other,
        }
    }
}

/// Tokens a JSON answer (a rule) may take.
const JSON_MAX_TOKENS: u32 = 300;

impl OpenAiSummarizer {
    /// `POST /chat/completions` with `body`: the first choice's text.
    async fn chat(&self, body: &serde_json::Value) -> Result<String, SummaryError> {
        // The one retry policy (crate::retry): dropped connections, 429 and 5xx are tried
        // again, waiting as `Retry-After` says when it does, up to `max_retry_wait`.
        let policy = crate::retry::Policy {
            retries: usize::try_from(self.config.retries).unwrap_or(usize::MAX),
            pause: Duration::from_millis(250),
            max_wait: self.config.max_retry_wait,
        };
        let text = policy
            .run(|| async {
                use crate::retry::Failed;
                let response = self
                    .client
                    .post(self.endpoint())
                    .bearer_auth(self.config.api_key.expose())
                    .json(body)
                    .send()
                    .await
                    .map_err(|e| {
                        let why = if e.is_timeout() {
                            "timed out".to_owned()
                        } else {
                            e.without_url().to_string()
                        };
                        Failed::retry(SummaryError::Unavailable(why), None)
                    })?;
                let status = response.status();
                if status.as_u16() == 429 || status.is_server_error() {
                    let wait = crate::market::retry_after_seconds(response.headers());
                    let text = response.text().await.unwrap_or_default();
                    return Err(Failed::retry(
                        SummaryError::Unavailable(format!(
                            "HTTP {}: {}",
                            status.as_u16(),
                            error_message(&text)
                        )),
                        wait,
                    ));
                }
                let text = response.text().await.map_err(|e| {
                    Failed::stop(SummaryError::Malformed(e.without_url().to_string()))
                })?;
                if !status.is_success() {
                    return Err(Failed::stop(SummaryError::Refused(format!(
                        "HTTP {}: {}",
                        status.as_u16(),
                        error_message(&text)
                    ))));
                }
                Ok(text)
            })
            .await?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| SummaryError::Malformed(format!("not JSON: {e}")))?;
        value["choices"][0]["message"]["content"]
            .as_str()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| SummaryError::Malformed("no choices[0].message.content".into()))
    }
}
