//! Rules from plain words: the corpus of sentences in `tests/fixtures/sentences.csv`, each
//! with the rule it must give, `refuse`, or `choose` and the symbols to choose from.
//!
//! A sentence may be refused where a rule was expected (coverage), but never read as another
//! rule than the expected one, nor as a rule where a refusal was expected (precision).

use std::collections::BTreeSet;

use signal_sentinel::engine::parse_rule;
use signal_sentinel::market::directory::SymbolDirectory;
use signal_sentinel::rules::words::{Reading, read_sentence};

const CORPUS: &str = include_str!("../fixtures/sentences.csv");

enum Expected {
    Rule(String),
    Refuse,
    Choose(BTreeSet<String>),
}

fn corpus() -> Vec<(String, Expected)> {
    let mut reader = csv::Reader::from_reader(CORPUS.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.expect("a corpus line");
            let sentence = r[0].to_owned();
            let expected = match &r[1] {
                "refuse" => Expected::Refuse,
                e if e.starts_with("choose ") => {
                    Expected::Choose(e[7..].split(' ').map(str::to_owned).collect())
                }
                e => Expected::Rule(
                    parse_rule(e)
                        .unwrap_or_else(|err| panic!("corpus rule {e:?}: {err}"))
                        .to_string(),
                ),
            };
            (sentence, expected)
        })
        .collect()
}

#[test]
fn the_corpus_is_read_with_no_wrong_rule_and_prints_its_coverage() {
    let directory = SymbolDirectory::shipped();
    let corpus = corpus();
    assert!(corpus.len() >= 150, "{} sentences", corpus.len());
    let (mut rules, mut rules_read, mut refusals, mut refused, mut choices, mut chosen) =
        (0, 0, 0, 0, 0, 0);
    let mut wrong = Vec::new();
    let mut missed = Vec::new();
    for (sentence, expected) in &corpus {
        let reading = read_sentence(sentence, &directory);
        match (expected, &reading) {
            (Expected::Rule(want), Reading::Rule(p)) => {
                rules += 1;
                if &p.text == want {
                    rules_read += 1;
                    assert_eq!(parse_rule(&p.text).as_ref(), Ok(&p.rule), "{sentence}");
                    assert!(
                        p.explanation.starts_with("Fires when "),
                        "{}",
                        p.explanation
                    );
                } else {
                    wrong.push(format!("{sentence:?}: {} (expected {want})", p.text));
                }
            }
            (Expected::Rule(want), other) => {
                rules += 1;
                missed.push(format!("{sentence:?} (expected {want}): {other:?}"));
            }
            (Expected::Refuse, Reading::Rule(p)) => {
                refusals += 1;
                wrong.push(format!("{sentence:?}: {} (expected a refusal)", p.text));
            }
            (Expected::Refuse, Reading::Refused { reason, .. }) => {
                refusals += 1;
                refused += 1;
                assert!(!reason.is_empty());
            }
            (Expected::Refuse, other @ Reading::Choose { .. }) => {
                refusals += 1;
                missed.push(format!("{sentence:?} (expected a refusal): {other:?}"));
            }
            (Expected::Choose(want), Reading::Choose { choices: got, .. }) => {
                choices += 1;
                let got: BTreeSet<String> = got.iter().map(|l| l.symbol.to_string()).collect();
                if &got == want {
                    chosen += 1;
                } else {
                    wrong.push(format!("{sentence:?}: choices {got:?} (expected {want:?})"));
                }
            }
            (Expected::Choose(_), Reading::Rule(p)) => {
                choices += 1;
                wrong.push(format!("{sentence:?}: {} (expected a choice)", p.text));
            }
            (Expected::Choose(want), other) => {
                choices += 1;
                missed.push(format!(
                    "{sentence:?} (expected a choice of {want:?}): {other:?}"
                ));
            }
        }
    }
    println!(
        "plain words: {} sentences; rules {rules_read} of {rules} read exactly ({:.1}%), \
         refusals {refused} of {refusals}, choices {chosen} of {choices}; wrong rules: {}",
        corpus.len(),
        100.0 * f64::from(rules_read) / f64::from(rules.max(1)),
        wrong.len()
    );
    for m in &missed {
        println!("  not read: {m}");
    }
    assert!(
        wrong.is_empty(),
        "read as another rule than meant:\n{}",
        wrong.join("\n")
    );
    // Coverage may only grow: lower this floor only with a reason in the commit.
    assert!(
        rules_read * 100 >= rules * 95,
        "coverage fell to {rules_read} of {rules}:\n{}",
        missed.join("\n")
    );
}

#[test]
fn an_unknown_word_for_a_symbol_is_never_a_symbol() {
    let directory = SymbolDirectory::shipped();
    for sentence in [
        "apple crosses above 200",
        "tell me if Apple crosses above 200",
    ] {
        let Reading::Rule(p) = read_sentence(sentence, &directory) else {
            panic!("{sentence}: not read");
        };
        assert_eq!(p.text, "AAPL crosses above 200");
        assert_eq!(p.symbols[0].name, "Apple Inc.");
    }
    let Reading::Refused { reason, understood } =
        read_sentence("tell me if NOTASYMBOL123 drops 5% today", &directory)
    else {
        panic!("read an unknown symbol");
    };
    assert!(reason.contains("which symbol"), "{reason}");
    assert!(understood.iter().any(|u| u == "5%"), "{understood:?}");
}

#[test]
fn long_or_strange_sentences_are_refused_without_panicking() {
    let directory = SymbolDirectory::shipped();
    let long = "Apple ".repeat(100);
    assert!(matches!(
        read_sentence(&long, &directory),
        Reading::Refused { .. }
    ));
    for s in [
        "",
        "   ",
        "$",
        "$$$",
        "tell me if Apple drops 99999999999999999999999999999999%",
        "Apple above 1,2,3",
        "Apple above $-5",
        "Apple drops 5% within 99999999999 days",
        "Apple drops 5% within 0 minutes",
        "rsi(",
        "🚀🚀 Tesla to the moon 🚀",
    ] {
        let _ = read_sentence(s, &directory);
    }
}

/// The model path: what the phrases cannot decide goes to an OpenAI-compatible server (a
/// local mock here) and comes back as a proposal only when the rule parser and the symbol
/// table accept it. Nothing is saved by any of it.
mod model {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;
    use signal_sentinel::clock::SystemClock;
    use signal_sentinel::config::Settings;
    use signal_sentinel::market::SimulatedMarket;
    use signal_sentinel::rules::words::{ProposalSource, Reading};
    use signal_sentinel::service::{Principal, Services};
    use signal_sentinel::store::Store;
    use signal_sentinel::summary::{OpenAiConfig, OpenAiSummarizer, Summarizer, SummaryError};
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::helpers::{Backend, TestDb, seed_user};

    /// A sentence the phrases refuse (no condition they know) but a model can read.
    const HARD: &str = "ping me if Apple sinks under two hundred and fifty bucks";
    const KEY: &str = "sk-test-words-0123456789";
    /// A model's good answer to [`HARD`].
    const GOOD: &str = r#"{"rule": "AAPL crosses below 250", "reason": "x"}"#;

    fn completion(content: &str) -> serde_json::Value {
        json!({
            "id": "chatcmpl-9", "object": "chat.completion", "created": 1_764_000_000,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
        })
    }

    async fn services(server: &MockServer, daily_calls: u32) -> (Services, Principal, TestDb) {
        let db = TestDb::new(Backend::SqliteMemory).await.unwrap();
        let settings = Settings::from_vars([
            ("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()),
            (
                "SECRET_KEY".to_owned(),
                "0123456789abcdef0123456789abcdef".to_owned(),
            ),
            ("OPENAI_API_KEY".to_owned(), KEY.to_owned()),
            ("OPENAI_BASE_URL".to_owned(), server.uri()),
            ("OPENAI_MODEL".to_owned(), "gpt-4o-mini".to_owned()),
            (
                "OPENAI_DAILY_CALLS_PER_USER".to_owned(),
                daily_calls.to_string(),
            ),
        ])
        .unwrap();
        let store: Arc<dyn Store> = Arc::new(db.store.clone());
        let user = seed_user(&db.store, "words@example.com").await;
        let clock = Arc::new(SystemClock);
        let market = Arc::new(SimulatedMarket::new(1, clock.clone()));
        let services =
            Services::from_settings(&settings, store, clock, market, Vec::new()).unwrap();
        let who = Principal {
            user: user.id,
            api_key: None,
        };
        (services, who, db)
    }

    async fn answer(server: &MockServer, content: &str) {
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion(content)))
            .mount(server)
            .await;
    }

    fn refusal(reading: &Reading) -> &str {
        match reading {
            Reading::Refused { reason, .. } => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_phrases_answer_first_and_the_model_is_not_asked() {
        let server = MockServer::start().await;
        let (services, who, _db) = services(&server, 5).await;
        let reading = services
            .propose_rule(who, "tell me if Apple drops 5% today")
            .await
            .unwrap();
        assert!(matches!(reading, Reading::Rule(ref p) if p.source == ProposalSource::Phrases));
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_good_answer_is_a_proposal_checked_by_the_parser() {
        let server = MockServer::start().await;
        answer(
            &server,
            r#"{"rule": "aapl crosses below 250", "reason": "price level"}"#,
        )
        .await;
        let (services, who, db) = services(&server, 5).await;
        let Reading::Rule(p) = services.propose_rule(who, HARD).await.unwrap() else {
            panic!("no proposal");
        };
        assert_eq!(p.text, "AAPL crosses below 250");
        assert_eq!(p.source, ProposalSource::Model);
        assert_eq!(p.symbols[0].name, "Apple Inc.");
        assert!(
            p.explanation.contains("crosses below 250"),
            "{}",
            p.explanation
        );
        // Asked with the schema, the key as a bearer token, the sentence in the prompt.
        let requests = server.received_requests().await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
        assert_eq!(body["response_format"]["type"], "json_schema");
        assert!(
            body["messages"][1]["content"]
                .as_str()
                .unwrap()
                .contains(HARD)
        );
        assert_eq!(
            requests[0].headers.get("authorization").unwrap(),
            &format!("Bearer {KEY}")
        );
        // Nothing saved.
        use signal_sentinel::store::RuleStore;
        assert_eq!(db.store.count_rules(who.user).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn answers_that_are_not_rules_are_refused() {
        for (content, expect) in [
            (
                "Sure! AAPL crosses below 250",
                "did not answer with the JSON",
            ),
            (
                r#"{"rule": "AAPL all time high", "reason": "x"}"#,
                "not a rule the engine has",
            ),
            (
                r#"{"rule": "APPLEX crosses below 250", "reason": "x"}"#,
                "does not know",
            ),
            (
                r#"{"rule": null, "reason": "no symbol named"}"#,
                "no symbol named",
            ),
            (
                r#"{"rule": 5, "reason": "x"}"#,
                "did not answer with the JSON",
            ),
        ] {
            let server = MockServer::start().await;
            answer(&server, content).await;
            let (services, who, _db) = services(&server, 5).await;
            let reading = services.propose_rule(who, HARD).await.unwrap();
            let reason = refusal(&reading);
            assert!(reason.contains(expect), "{content}: {reason}");
            assert!(!reason.contains(KEY));
        }
    }

    #[tokio::test]
    async fn a_symbol_the_user_wrote_with_a_dollar_is_taken_as_written() {
        let server = MockServer::start().await;
        answer(
            &server,
            r#"{"rule": "ZZZQ crosses below 250", "reason": "x"}"#,
        )
        .await;
        let (services, who, _db) = services(&server, 5).await;
        let reading = services
            .propose_rule(
                who,
                "ping me if $ZZZQ sinks under two hundred and fifty bucks",
            )
            .await
            .unwrap();
        assert!(
            matches!(reading, Reading::Rule(ref p) if p.text == "ZZZQ crosses below 250"),
            "{reading:?}"
        );
    }

    #[tokio::test]
    async fn a_429_is_waited_out_and_the_budget_is_kept() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "0")
                    .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        answer(&server, GOOD).await;
        let (services, who, _db) = services(&server, 1).await;
        let first = services.propose_rule(who, HARD).await.unwrap();
        assert!(matches!(first, Reading::Rule(_)), "{first:?}");
        // The one call of the day is spent: refused without asking.
        let before = server.received_requests().await.unwrap().len();
        let second = services.propose_rule(who, HARD).await.unwrap();
        assert!(refusal(&second).contains("budget"), "{second:?}");
        assert_eq!(server.received_requests().await.unwrap().len(), before);
    }

    #[tokio::test]
    async fn a_server_without_structured_output_is_asked_with_the_prompt_alone() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_partial_json(json!({"response_format": {"type": "json_schema"}})))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Unrecognized request argument supplied: response_format", "type": "invalid_request_error"}})))
            .with_priority(1)
            .mount(&server)
            .await;
        answer(&server, GOOD).await;
        let (services, who, _db) = services(&server, 5).await;
        let reading = services.propose_rule(who, HARD).await.unwrap();
        assert!(matches!(reading, Reading::Rule(_)), "{reading:?}");
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_timeout_is_an_error_without_the_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(completion("{}"))
                    .set_delay(Duration::from_secs(3)),
            )
            .mount(&server)
            .await;
        let mut config = OpenAiConfig::new(
            url::Url::parse(&server.uri()).unwrap(),
            signal_sentinel::Secret::new(KEY),
            "gpt-4o-mini",
        );
        config.timeout = Duration::from_millis(200);
        config.retries = 0;
        let client = OpenAiSummarizer::new(config).unwrap();
        let schema = signal_sentinel::rules::words::model_schema();
        let error = client.complete_json("i", "p", &schema).await.unwrap_err();
        assert!(
            matches!(error, SummaryError::Unavailable(ref why) if why.contains("timed out")),
            "{error:?}"
        );
        assert!(!error.to_string().contains(KEY));
    }

    #[tokio::test]
    async fn without_a_model_the_refusal_is_the_phrases() {
        let db = TestDb::new(Backend::SqliteMemory).await.unwrap();
        let settings = Settings::from_vars([
            ("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()),
            (
                "SECRET_KEY".to_owned(),
                "0123456789abcdef0123456789abcdef".to_owned(),
            ),
        ])
        .unwrap();
        let store: Arc<dyn Store> = Arc::new(db.store.clone());
        let user = seed_user(&db.store, "plain@example.com").await;
        let clock = Arc::new(SystemClock);
        let market = Arc::new(SimulatedMarket::new(1, clock.clone()));
        let services =
            Services::from_settings(&settings, store, clock, market, Vec::new()).unwrap();
        let who = Principal {
            user: user.id,
            api_key: None,
        };
        let reading = services.propose_rule(who, HARD).await.unwrap();
        assert!(
            refusal(&reading).starts_with("one number per sentence"),
            "{reading:?}"
        );
        let too_long = services.propose_rule(who, &"x".repeat(301)).await;
        assert!(too_long.is_err());
    }
}
