//! One error shape for every failure, and the limits on what a request may carry.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{TestServer, error_code};

#[tokio::test]
async fn what_poem_answers_itself_has_the_one_error_shape() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;

    let unknown = server
        .call(Method::GET, "/api/no-such-thing", None, None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&unknown), "not_found");
    let outside = server.call(Method::GET, "/wp-admin", None, None).await;
    assert_eq!(error_code(&outside), "not_found");

    let malformed = server
        .http
        .post(format!("{}/api/rules", server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"text\": ")
        .send()
        .await
        .unwrap();
    let malformed = TestServer::read(malformed).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&malformed), "bad_request");

    let wrong_type = server
        .post("/api/rules", &token, json!({"text": ["AAPL > 1"]}))
        .await;
    assert_eq!(
        wrong_type.status,
        StatusCode::BAD_REQUEST,
        "{}",
        wrong_type.text
    );
    assert_eq!(error_code(&wrong_type), "bad_request");

    let method = server.call(Method::PUT, "/api/health", None, None).await;
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&method), "method_not_allowed");
    assert_eq!(
        method.headers["allow"], "GET, HEAD",
        "RFC 9110: 405 names the methods"
    );
    let trace = server
        .call(Method::TRACE, "/api/rules/7/enable", Some(&token), None)
        .await;
    assert_eq!(trace.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(trace.headers["allow"], "POST");

    let bad_id = server.get("/api/rules/abc", &token).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&bad_id), "bad_request");

    let page = server.get("/api/alerts?limit=100000", &token).await;
    assert_eq!(
        page.status,
        StatusCode::BAD_REQUEST,
        "page sizes are capped"
    );
    assert_eq!(error_code(&page), "bad_request");
}

/// A string over its `maxLength` gets the library's answer — 422 naming the field, the text
/// `invest` prints for the same value — not a 400 of poem's own; and the spec declares the
/// library's limit.
#[tokio::test]
async fn every_length_limit_is_the_librarys_answer() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let long = |n: usize| "a".repeat(n + 1);
    let cases = [
        (
            "/api/auth/api-keys",
            json!({"name": long(64)}),
            "name",
            "must be 1 to 64 characters",
        ),
        (
            "/api/rules",
            json!({"text": long(500)}),
            "text",
            "column 501: a rule is at most 500 characters",
        ),
        (
            "/api/rules",
            json!({"text": "AAPL > 1", "name": long(100)}),
            "name",
            "must be at most 100 characters",
        ),
        (
            "/api/rules",
            json!({"symbol": long(24), "condition": {"type": "price", "op": ">", "level": "1"}}),
            "symbol",
            "it has 25 characters, at most 24 are allowed",
        ),
        (
            "/api/channels",
            json!({"kind": "telegram", "chat_id": "1", "name": long(64)}),
            "name",
            "must be 1 to 64 characters",
        ),
        (
            "/api/channels",
            json!({"kind": "telegram", "chat_id": long(64)}),
            "chat_id",
            "must be at most 64 characters",
        ),
        (
            "/api/channels",
            json!({"kind": "webhook", "url": format!("https://example.com/{}", long(2048))}),
            "url",
            "must be at most 2048 characters",
        ),
        (
            "/api/channels",
            json!({"kind": "webhook", "url": "https://example.com/h", "secret": long(256)}),
            "secret",
            "must be at most 256 characters",
        ),
        (
            "/api/portfolio/import",
            json!({"csv": long(60_000)}),
            "csv",
            "nothing imported; the file is longer than 60000 characters",
        ),
        (
            "/api/auth/password",
            json!({"current_password": "correct horse battery", "new_password": long(1024)}),
            "new_password",
            "the password must be 8 to 1024 characters long",
        ),
    ];
    for (path, body, field, message) in cases {
        let r = server.post(path, &token, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {field}: {}",
            r.text
        );
        assert_eq!(error_code(&r), "invalid_input", "{}", r.text);
        let body: serde_json::Value = serde_json::from_str(&r.text).unwrap();
        assert_eq!(body["error"]["fields"][0]["field"], field, "{}", r.text);
        let said = body["error"]["fields"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(said.ends_with(message), "{path} {field}: {said}");
    }

    let spec = server.get("/api/openapi.json", &token).await.body;
    let limit = |schema: &str, field: &str| {
        spec["components"]["schemas"][schema]["properties"][field]["maxLength"].clone()
    };
    assert_eq!(limit("ApiKeyIn", "name"), json!(64));
    assert_eq!(limit("RuleIn", "text"), json!(500));
    assert_eq!(limit("RuleIn", "symbol"), json!(24));
    assert_eq!(limit("ImportIn", "csv"), json!(60_000));
    assert_eq!(limit("RegisterIn", "display_name"), json!(100));
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_declared_or_chunked() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let big = json!({"text": "AAPL > 1", "name": "x".repeat(400 * 1024)});
    let r = server.post("/api/rules", &token, big.clone()).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&r), "payload_too_large");

    // No Content-Length: the body is sent in chunks.
    let r = chunked_post(&server, &token, &big.to_string()).await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    assert!(r.contains("payload_too_large"), "{r}");
    // Under the limit, a chunked body is served.
    let r = chunked_post(&server, &token, &json!({"text": "AAPL > 1"}).to_string()).await;
    assert!(r.starts_with("HTTP/1.1 201"), "{r}");
}

#[tokio::test]
async fn the_largest_import_the_spec_allows_fits_the_body_limit() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    // 60,000 characters (the spec's maxLength), each spelled `\u0001` in the JSON body: the
    // server reads it (and refuses the CSV as bad data), it does not answer 413.
    let csv = "\u{1}".repeat(60_000);
    let body = json!({ "csv": csv });
    assert!(body.to_string().len() > 350_000);
    let r = server.post("/api/portfolio/import", &token, body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = server
        .post(
            "/api/portfolio/import",
            &token,
            json!({ "csv": "x".repeat(60_001) }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

/// POSTs `body` to /api/rules with `Transfer-Encoding: chunked`; the raw response.
async fn chunked_post(server: &TestServer, token: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut request = format!(
        "POST /api/rules HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for chunk in body.as_bytes().chunks(8 * 1024) {
        request.push_str(&format!("{:x}\r\n", chunk.len()));
        request.push_str(std::str::from_utf8(chunk).unwrap());
        request.push_str("\r\n");
    }
    request.push_str("0\r\n\r\n");
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        // The server may answer 413 and close before reading everything.
        let _ = stream.write_all(request.as_bytes());
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    })
    .await
    .unwrap()
}
