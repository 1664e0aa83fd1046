//! Workers' shard leases: shared fairly, handed to a worker that joins, taken from a worker
//! that dies once its leases expire, freed by a worker that leaves; a cycle's write fenced by
//! the leases it was computed under.

use std::collections::BTreeSet;

use chrono::Duration;
use signal_sentinel::domain::{
    AlertQuery, CycleWrite, SHARDS, ShardFence, WorkerCycle, WorkerIdentity,
};
use signal_sentinel::store::{AlertStore, MonitorStore, StoreError, WorkerStore};

use crate::helpers::{TestDb, at, new_alert, seed_rule, seed_user};

fn worker(id: &str) -> WorkerIdentity {
    WorkerIdentity {
        id: id.to_owned(),
        host: "test-host".into(),
        pid: 4242,
        interval_seconds: 5,
    }
}

const LEASE: Duration = Duration::seconds(10);

/// Every shard held by exactly one of `held`.
fn assert_partition(held: &[&[u32]]) {
    let mut seen = BTreeSet::new();
    for shards in held {
        for shard in *shards {
            assert!(seen.insert(*shard), "shard {shard} held twice: {held:?}");
        }
    }
    assert_eq!(seen.len(), SHARDS as usize, "shards unheld: {held:?}");
}

async fn shards_are_shared_handed_over_and_taken_from_the_dead(db: &TestDb) {
    let s = &db.store;
    let (a, b, c) = (worker("a"), worker("b"), worker("c"));
    let t0 = at("2026-11-29T10:00:00Z");
    let tick = |n: i64| t0 + Duration::seconds(n);

    // Alone, a worker holds everything.
    let held_a = s.rebalance_shards(&a, tick(0), LEASE).await.unwrap();
    assert_eq!(held_a.len(), SHARDS as usize);
    // A worker that joins gets nothing until the holder gives up its excess…
    assert!(
        s.rebalance_shards(&b, tick(1), LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let held_a = s.rebalance_shards(&a, tick(2), LEASE).await.unwrap();
    assert_eq!(held_a, (0..SHARDS / 2).collect::<Vec<_>>());
    // …and then takes it.
    let held_b = s.rebalance_shards(&b, tick(3), LEASE).await.unwrap();
    assert_partition(&[&held_a, &held_b]);

    // A third: everyone ends with a third (22, 22, 20).
    s.rebalance_shards(&c, tick(4), LEASE).await.unwrap();
    let held_a = s.rebalance_shards(&a, tick(5), LEASE).await.unwrap();
    let held_b = s.rebalance_shards(&b, tick(6), LEASE).await.unwrap();
    let held_c = s.rebalance_shards(&c, tick(7), LEASE).await.unwrap();
    assert_eq!(
        (held_a.len(), held_b.len(), held_c.len()),
        (22, 22, 20),
        "{held_a:?} {held_b:?} {held_c:?}"
    );
    assert_partition(&[&held_a, &held_b, &held_c]);

    // The status lists them with their shards and last cycle.
    s.record_worker_cycle(
        "b",
        &WorkerCycle {
            at: Some(tick(7)),
            duration_ms: 120,
            rules: 3_300,
            alerts: 4,
            error: None,
            feed: Some(signal_sentinel::domain::MarketFeed {
                mode: "stream".into(),
                stream: Some(signal_sentinel::domain::StreamStatus {
                    provider: "finnhub".into(),
                    connected: true,
                    subscribed: 42,
                    ..Default::default()
                }),
                trade_cycles: 7,
                ..Default::default()
            }),
        },
    )
    .await
    .unwrap();
    let workers = s.list_workers(tick(7) - LEASE).await.unwrap();
    let ids: Vec<&str> = workers.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(workers[1].shards, held_b);
    assert_eq!(workers[1].last_cycle_rules, Some(3_300));
    assert_eq!(workers[1].last_cycle_alerts, Some(4));
    assert_eq!(workers[1].host, "test-host");
    let feed = workers[1].feed.as_ref().unwrap();
    assert_eq!((feed.mode.as_str(), feed.trade_cycles), ("stream", 7));
    assert_eq!(feed.stream.as_ref().unwrap().subscribed, 42);
    assert_eq!(workers[0].feed, None, "a worker that has not cycled yet");
    assert!(workers.iter().all(|w| w.is_live(tick(7))));

    // `a` dies: it renews nothing. Before its leases expire nobody takes its shards…
    let held_b = s.renew_leases(&b, tick(8), LEASE).await.unwrap();
    let held_c = s.rebalance_shards(&c, tick(9), LEASE).await.unwrap();
    assert_eq!(held_c.len(), 20);
    // …after, the others share them (within one of their cycles each).
    let later = tick(5) + LEASE + Duration::seconds(1);
    let held_b2 = s.rebalance_shards(&b, later, LEASE).await.unwrap();
    let held_c2 = s
        .rebalance_shards(&c, later + Duration::seconds(1), LEASE)
        .await
        .unwrap();
    assert_eq!(held_b2.len() + held_c2.len(), SHARDS as usize);
    assert!(held_b.iter().all(|s| held_b2.contains(s)), "b kept its own");
    assert_partition(&[&held_b2, &held_c2]);
    let live: Vec<String> = s
        .list_workers(later - LEASE)
        .await
        .unwrap()
        .into_iter()
        .filter(|w| w.is_live(later + Duration::seconds(1)))
        .map(|w| w.id)
        .collect();
    assert!(!live.contains(&"a".to_owned()), "{live:?}");

    // `b` leaves: its shards are free at once, and `c` takes them all at its next cycle.
    s.leave("b").await.unwrap();
    let held_c = s
        .rebalance_shards(&c, later + Duration::seconds(2), LEASE)
        .await
        .unwrap();
    assert_eq!(held_c.len(), SHARDS as usize);
    let ids: Vec<String> = s
        .list_workers(later - LEASE)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, ["c"]);
}

async fn a_write_under_a_lost_lease_is_refused_whole(db: &TestDb) {
    let s = &db.store;
    let user = seed_user(s, "ann@example.com").await;
    let rule = seed_rule(s, &user, "AAPL").await;
    let (a, b) = (worker("a"), worker("b"));
    let t0 = at("2026-11-29T10:00:00Z");
    let shards = s.rebalance_shards(&a, t0, LEASE).await.unwrap();
    let write = |episode, until| CycleWrite {
        at: Some(t0),
        alerts: vec![new_alert(&rule, episode, "201.5", t0)],
        fence: Some(ShardFence {
            worker: "a".into(),
            shards: shards.clone(),
            lease_until: until,
        }),
        ..CycleWrite::default()
    };
    // Held: committed.
    assert_eq!(s.commit_cycle(write(1, t0 + LEASE)).await.unwrap().len(), 1);
    // `a` stalls past its lease; `b` takes everything; `a`'s late write is refused and
    // nothing of it is stored.
    let late = t0 + LEASE * 2;
    assert_eq!(
        s.rebalance_shards(&b, late, LEASE).await.unwrap().len(),
        SHARDS as usize
    );
    match s.commit_cycle(write(2, late + LEASE)).await {
        Err(StoreError::LeaseLost { shards: lost }) => assert_eq!(lost, shards),
        other => panic!("expected LeaseLost, got {other:?}"),
    }
    let stored = s
        .list_alerts(&AlertQuery::newest(user.id, 10))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].episode, 1);
}

/// A worker reads only the rules of its shards; rules stored before the shard column existed
/// get theirs when the store next opens.
async fn rules_are_listed_by_shard_and_old_rules_get_theirs(db: &TestDb) {
    use signal_sentinel::domain::{RuleFilter, shard_of};
    use signal_sentinel::store::RuleStore;
    let ann = seed_user(&db.store, "ann@example.com").await;
    let symbols = ["AAPL", "MSFT", "IBM", "GE", "XOM", "SPY", "QQQ", "TSLA"];
    for s in symbols {
        seed_rule(&db.store, &ann, s).await;
    }
    let of = |shards: Vec<u32>| RuleFilter {
        shards: Some(shards),
        ..RuleFilter::default()
    };
    let aapl = shard_of(&crate::helpers::symbol("AAPL"));
    let stamps = |filter: RuleFilter| {
        let store = db.store.clone();
        async move {
            let mut symbols: Vec<String> = store
                .list_rule_stamps(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.symbol.to_string())
                .collect();
            symbols.sort();
            symbols
        }
    };
    let expected: Vec<String> = {
        let mut v: Vec<String> = symbols
            .iter()
            .filter(|s| shard_of(&crate::helpers::symbol(s)) == aapl)
            .map(|s| (*s).to_owned())
            .collect();
        v.sort();
        v
    };
    assert!(expected.contains(&"AAPL".to_owned()));
    assert_eq!(stamps(of(vec![aapl])).await, expected);
    assert_eq!(stamps(of((0..SHARDS).collect())).await.len(), symbols.len());
    assert!(stamps(of(vec![])).await.is_empty());

    // As if stored before migration 4: no shard, so no worker would read them …
    db.execute_sql("UPDATE rules SET shard = NULL").await;
    assert!(stamps(of((0..SHARDS).collect())).await.is_empty());
    // … until a process opens the database (and migrates it) again.
    let reopened = db.another_process().await;
    reopened.migrate().await.unwrap();
    assert_eq!(stamps(of(vec![aapl])).await, expected);
}

#[tokio::test]
async fn rules_are_listed_by_shard_on_an_sqlite_file() {
    let db = TestDb::new(crate::helpers::Backend::SqliteFile)
        .await
        .unwrap();
    rules_are_listed_by_shard_and_old_rules_get_theirs(&db).await;
}

#[tokio::test]
async fn rules_are_listed_by_shard_on_postgres() {
    if let Some(db) = TestDb::new(crate::helpers::Backend::Postgres).await {
        rules_are_listed_by_shard_and_old_rules_get_theirs(&db).await;
    }
}

backend_tests!(
    shards_are_shared_handed_over_and_taken_from_the_dead,
    a_write_under_a_lost_lease_is_refused_whole,
);
