//! `invest portfolio import`.

use super::*;

#[test]
fn portfolio_import_reports_every_bad_line_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Quotes are asked of a closed local port: the portfolio shows without prices.
    let env = [
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("YAHOO_BASE_URL", "http://127.0.0.1:9"),
    ];
    create_ann(dir.path(), &env);
    std::fs::write(
        dir.path().join("bad.csv"),
        "symbol,quantity,cost_basis,account\nAAPL,10,150,ira\nMSFT,zero,,\n,5,1,\n",
    )
    .unwrap();
    let bad = invest(dir.path(), &env, &["portfolio", "import", "bad.csv"]);
    assert_eq!(bad.code, 1);
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("bad.csv")
            && bad.stderr.contains("line 3")
            && bad.stderr.contains("line 4"),
        "{}",
        bad.stderr
    );
    let none = invest(dir.path(), &env, &["portfolio", "show"]);
    assert!(none.stdout.contains("no holdings"), "{}", none.stdout);

    std::fs::write(
        dir.path().join("good.csv"),
        "symbol,quantity,cost_basis,account\nAAPL,10,150,ira\nmsft,5,,\n",
    )
    .unwrap();
    let good = invest(dir.path(), &env, &["portfolio", "import", "good.csv"]);
    assert_eq!(good.code, 0, "{}", good.stderr);
    assert!(
        good.stdout.contains("imported 2 holdings"),
        "{}",
        good.stdout
    );
    let shown = invest(dir.path(), &env, &["--json", "portfolio", "show"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let portfolio: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(portfolio["positions"].as_array().unwrap().len(), 2);
    assert_eq!(portfolio["positions"][1]["holding"]["account"], "default");
    assert_eq!(portfolio["unpriced"], serde_json::json!(["AAPL", "MSFT"]));
    let table = invest(dir.path(), &env, &["portfolio", "show"]);
    assert!(
        table.stdout.contains("no quote now for: AAPL, MSFT"),
        "{}",
        table.stdout
    );
    // Watch my holdings: a 10% fall below cost and a 5% day move by default, never twice.
    let watch = invest(dir.path(), &env, &["portfolio", "watch"]);
    assert_eq!(watch.code, 0, "{}", watch.stderr);
    assert!(
        watch
            .stdout
            .contains("created: AAPL position 10% below cost")
            && watch
                .stdout
                .contains("created: MSFT position day move >= 5%")
            && watch.stdout.contains("3 rules created, 0 existed already"),
        "{}",
        watch.stdout
    );
    let again = invest(dir.path(), &env, &["portfolio", "watch"]);
    assert!(
        again.stdout.contains("0 rules created, 3 existed already"),
        "{}",
        again.stdout
    );
    let bad = invest(dir.path(), &env, &["portfolio", "watch", "--weight", "0"]);
    assert_eq!(bad.code, 1);
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
}
