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

/// `Services` as the composition root builds them from `vars` (besides a database and a
/// secret key) over `market`, and a user to act as.
async fn services_with(
    vars: Vec<(&str, String)>,
    market: std::sync::Arc<dyn signal_sentinel::market::MarketData>,
) -> (
    signal_sentinel::service::Services,
    signal_sentinel::service::Principal,
    crate::helpers::TestDb,
) {
    use crate::helpers::{Backend, TestDb, seed_user};
    let db = TestDb::new(Backend::SqliteMemory).await.unwrap();
    let mut all = vec![
        ("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()),
        (
            "SECRET_KEY".to_owned(),
            "0123456789abcdef0123456789abcdef".to_owned(),
        ),
    ];
    all.extend(vars.into_iter().map(|(k, v)| (k.to_owned(), v)));
    let settings = signal_sentinel::config::Settings::from_vars(all).unwrap();
    let store: std::sync::Arc<dyn signal_sentinel::store::Store> =
        std::sync::Arc::new(db.store.clone());
    let user = seed_user(&db.store, "words@example.com").await;
    let services = signal_sentinel::service::Services::from_settings(
        &settings,
        store,
        std::sync::Arc::new(signal_sentinel::clock::SystemClock),
        market,
        Vec::new(),
    )
    .unwrap();
    let who = signal_sentinel::service::Principal {
        user: user.id,
        api_key: None,
    };
    (services, who, db)
}

fn simulated() -> std::sync::Arc<dyn signal_sentinel::market::MarketData> {
    std::sync::Arc::new(signal_sentinel::market::SimulatedMarket::new(
        1,
        std::sync::Arc::new(signal_sentinel::clock::SystemClock),
    ))
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
    let Reading::Refused {
        reason, understood, ..
    } = read_sentence("tell me if NOTASYMBOL123 drops 5% today", &directory)
    else {
        panic!("read an unknown symbol");
    };
    assert!(reason.contains("which symbol"), "{reason}");
    assert!(understood.iter().any(|u| u == "5%"), "{understood:?}");
}

#[test]
fn a_misspelt_ticker_gets_close_symbols_and_is_left_for_the_search() {
    let directory = SymbolDirectory::shipped();
    let Reading::Refused {
        reason, unresolved, ..
    } = read_sentence("tell me if APPL drops 5% today", &directory)
    else {
        panic!("read a symbol nobody knows");
    };
    assert!(reason.contains("did you mean"), "{reason}");
    assert!(reason.contains("AAPL (Apple Inc.)"), "{reason}");
    assert_eq!(unresolved.as_deref(), Some("APPL"));
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
    use std::time::Duration;

    use serde_json::json;
    use signal_sentinel::rules::words::{ProposalSource, Reading};
    use signal_sentinel::service::{Principal, Services};
    use signal_sentinel::summary::{OpenAiConfig, OpenAiSummarizer, Summarizer, SummaryError};
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::helpers::TestDb;

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
        super::services_with(
            vec![
                ("OPENAI_API_KEY", KEY.to_owned()),
                ("OPENAI_BASE_URL", server.uri()),
                ("OPENAI_MODEL", "gpt-4o-mini".to_owned()),
                ("OPENAI_DAILY_CALLS_PER_USER", daily_calls.to_string()),
            ],
            super::simulated(),
        )
        .await
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
        let (services, who, _db) = super::services_with(Vec::new(), super::simulated()).await;
        let reading = services.propose_rule(who, HARD).await.unwrap();
        assert!(
            refusal(&reading).starts_with("one number per sentence"),
            "{reading:?}"
        );
        let too_long = services.propose_rule(who, &"x".repeat(301)).await;
        assert!(too_long.is_err());
    }
}

/// Names the shipped table does not know: the providers' symbol search (Finnhub's `/search`,
/// Yahoo's `/v1/finance/search`, local mocks here), cached, and the sentence read again.
mod search {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;
    use signal_sentinel::market::{FinnhubMarket, MarketData, YahooMarket};
    use signal_sentinel::rules::words::Reading;
    use signal_sentinel::service::{Principal, Services};
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::helpers::TestDb;

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn yahoo_answer() -> serde_json::Value {
        json!({
            "explains": [], "count": 3,
            "quotes": [
                {"exchange": "NMS", "shortname": "Rocket Lab Corporation", "quoteType": "EQUITY",
                 "symbol": "RKLB", "index": "quotes", "score": 20000.0, "typeDisp": "Equity",
                 "longname": "Rocket Lab Corporation", "exchDisp": "NASDAQ", "isYahooFinance": true},
                {"exchange": "FRA", "shortname": "ROCKET LAB", "quoteType": "EQUITY",
                 "symbol": "6RJ0.F", "index": "quotes", "isYahooFinance": true},
                {"exchange": "OPR", "shortname": "RKLB Jan 2027 20 C", "quoteType": "OPTION",
                 "symbol": "RKLB270115C00020000", "isYahooFinance": true}
            ],
            "news": [], "nav": [], "lists": [], "researchReports": [], "totalTime": 21
        })
    }

    #[tokio::test]
    async fn yahoo_search_reads_its_answer_in_our_spelling() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/finance/search"))
            .and(query_param("q", "berkshire class b"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "quotes": [
                    {"symbol": "BRK-B", "shortname": "BERKSHIRE HATHAWAY INC", "longname": "Berkshire Hathaway Inc.", "quoteType": "EQUITY"},
                    {"symbol": "^GSPC", "shortname": "S&P 500", "quoteType": "INDEX"},
                    {"symbol": "BTC-USD", "shortname": "Bitcoin USD", "quoteType": "CRYPTOCURRENCY"},
                    {"symbol": "SPY", "longname": "SPDR S&P 500 ETF Trust", "quoteType": "ETF"},
                    {"symbol": "ES=F", "shortname": "E-Mini S&P 500", "quoteType": "FUTURE"},
                    {"symbol": "X", "quoteType": "EQUITY"}
                ]
            })))
            .mount(&server)
            .await;
        let yahoo = YahooMarket::new(url::Url::parse(&server.uri()).unwrap(), TIMEOUT).unwrap();
        let found = yahoo.search_symbols("berkshire class b").await.unwrap();
        let symbols: Vec<String> = found.iter().map(|l| l.symbol.to_string()).collect();
        assert_eq!(symbols, ["BRK.B", "^GSPC", "BTC-USD", "SPY"]);
        assert_eq!(found[0].name, "Berkshire Hathaway Inc.");
    }

    #[tokio::test]
    async fn finnhub_search_keeps_us_listings_and_sends_its_key_in_a_header() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/search"))
            .and(query_param("q", "rocket lab"))
            .and(header("X-Finnhub-Token", "fh-key"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "count": 3,
                "result": [
                    {"description": "ROCKET LAB CORP", "displaySymbol": "RKLB", "symbol": "RKLB", "type": "Common Stock"},
                    {"description": "ROCKET LAB CORP", "displaySymbol": "6RJ0.F", "symbol": "6RJ0.F", "type": "Common Stock"},
                    {"description": "BERKSHIRE HATH-B", "displaySymbol": "BRK-B", "symbol": "BRK-B", "type": "Common Stock"}
                ]
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/search"))
            .and(query_param("q", "limited"))
            .respond_with(
                ResponseTemplate::new(429)
                    .set_body_json(json!({"error": "API limit reached. Please try again later."})),
            )
            .mount(&server)
            .await;
        let finnhub = FinnhubMarket::new(
            url::Url::parse(&server.uri()).unwrap(),
            signal_sentinel::Secret::new("fh-key"),
            6_000,
            TIMEOUT,
        )
        .unwrap();
        let found = finnhub.search_symbols("rocket lab").await.unwrap();
        let symbols: Vec<String> = found.iter().map(|l| l.symbol.to_string()).collect();
        assert_eq!(symbols, ["RKLB", "BRK.B"]);
        let limited = finnhub.search_symbols("limited").await.unwrap_err();
        assert!(!limited.to_string().contains("fh-key"), "{limited}");
    }

    async fn services_on(market: Arc<dyn MarketData>) -> (Services, Principal, TestDb) {
        super::services_with(Vec::new(), market).await
    }

    #[tokio::test]
    async fn a_name_the_table_lacks_is_searched_once_and_read_again() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/finance/search"))
            .respond_with(ResponseTemplate::new(200).set_body_json(yahoo_answer()))
            .mount(&server)
            .await;
        let yahoo = YahooMarket::new(url::Url::parse(&server.uri()).unwrap(), TIMEOUT).unwrap();
        let (services, who, _db) = services_on(Arc::new(yahoo)).await;
        for _ in 0..2 {
            let reading = services
                .propose_rule(who, "tell me if Rocket Lab drops 8% today")
                .await
                .unwrap();
            let Reading::Rule(p) = reading else {
                panic!("not read: {reading:?}");
            };
            assert_eq!(p.text, "RKLB day change <= -8%");
            assert_eq!(p.symbols[0].name, "Rocket Lab Corporation");
            assert!(
                p.explanation.contains("Rocket Lab Corporation (RKLB)"),
                "{}",
                p.explanation
            );
        }
        // The second sentence was answered from the cache.
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn several_finds_are_a_choice_and_a_failed_search_the_readers_refusal() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/finance/search"))
            .and(query_param("q", "Acme"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"quotes": [
                {"symbol": "ACME", "longname": "Acme Corp.", "quoteType": "EQUITY"},
                {"symbol": "ACMR", "longname": "ACM Research", "quoteType": "EQUITY"}
            ]})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/finance/search"))
            .and(query_param("q", "Broken"))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
        let yahoo = YahooMarket::new(url::Url::parse(&server.uri()).unwrap(), TIMEOUT).unwrap();
        let (services, who, _db) = services_on(Arc::new(yahoo)).await;
        let reading = services
            .propose_rule(who, "tell me if Acme drops 8% today")
            .await
            .unwrap();
        assert!(
            matches!(reading, Reading::Choose { ref choices, .. } if choices.len() == 2),
            "{reading:?}"
        );
        let reading = services
            .propose_rule(who, "tell me if Broken drops 8% today")
            .await
            .unwrap();
        assert!(
            matches!(reading, Reading::Refused { ref reason, .. } if reason.starts_with("which symbol")),
            "{reading:?}"
        );
    }
}
