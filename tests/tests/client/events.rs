//! Play events reach the server exactly once, however many answers are lost on the way.

use crate::common::TestServer;
use crate::support::{ClientDevice, Proxy};
use mixtape::shared::TrackId;
use mixtape::shared::api::PlayEventKind;
use mixtape::sync::{SyncReport, sync};

async fn history_total(server: &TestServer) -> u64 {
    server.admin_get("/api/v1/history?limit=1").await["total"]
        .as_u64()
        .unwrap()
}

/// One sync round with the library, as the CLI runs it.
async fn sync_once(dev: &ClientDevice) -> Result<SyncReport, String> {
    dev.with_device(|d| {
        let api = d.api().unwrap();
        sync(&mut d.mirror, &api).map_err(|e| {
            assert!(
                e.is_offline(),
                "a lost answer looks like a network failure: {e}"
            );
            e.to_string()
        })
    })
    .await
}

async fn record(dev: &ClientDevice, tracks: &[i64], n: usize) {
    let tracks = tracks.to_vec();
    dev.with_device(move |d| {
        for i in 0..n {
            d.mirror
                .record_event(
                    TrackId(tracks[i % tracks.len()]),
                    PlayEventKind::Finish,
                    1000 * i as u64,
                )
                .unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_events_are_stored_exactly_once_across_lost_answers_and_retries() {
    const N: usize = 25;
    let server = TestServer::demo().await;
    let tracks = server.track_ids().await;
    let proxy = Proxy::start(server.addr);
    let dev = ClientDevice::new();
    dev.login(&proxy.url()).await;
    record(&dev, &tracks, N).await;
    assert_eq!(dev.status().await["pending_events"], N);

    // Every answer to an upload is lost: the server stores the events, the client cannot know.
    proxy.drop_responses("POST /api/v1/events ", -1);
    let failed = sync_once(&dev).await;
    assert!(failed.is_err(), "{failed:?}");
    let lost = proxy.dropped();
    assert!(lost >= 1, "no answer was dropped");
    assert_eq!(
        history_total(&server).await,
        N as u64,
        "stored on the first try"
    );
    assert_eq!(
        dev.status().await["pending_events"],
        N,
        "kept for the next sync"
    );

    // Next round: the first answer is lost again, the retry inside the round gets through.
    proxy.drop_responses("POST /api/v1/events ", 1);
    let report = sync_once(&dev).await.expect("the retry succeeds");
    assert_eq!(proxy.dropped(), lost + 1);
    assert_eq!(report.events_accepted, 0, "{report:?}");
    assert_eq!(report.events_duplicate, N as u32, "{report:?}");
    assert_eq!(
        history_total(&server).await,
        N as u64,
        "no event stored twice"
    );

    // And with nothing lost, through the CLI: only the new events count.
    proxy.drop_responses("", 0);
    record(&dev, &tracks, 3).await;
    let report = dev.json(&["sync", "--json"]).await;
    assert_eq!(report["events_accepted"], 3, "{report}");
    assert_eq!(report["events_duplicate"], 0, "{report}");
    assert_eq!(history_total(&server).await, N as u64 + 3);
    let status = dev.status().await;
    assert_eq!(status["pending_events"], 0, "{status}");
    assert_eq!(status["link"], "online", "{status}");
}
