//! Desktop figures, on the real app under Xvfb:
//! P3, the relay's overhead on a 2000-frame stream in the real webview (time to first byte and total,
//! with the relay's wrapped fetch against the page's own unwrapped fetch);
//! P4, the binary's size and the cold start until the dashboard shows the balance.
//! Run by scripts/bench.sh, which builds the release binary first.

use dify_sim::SimConfig;
use serde_json::json;
use std::time::Duration;
use tokendesk_e2e::{DesktopApp, Outcome, Setup, quick_sim};

const STARTS: usize = 5;
const STREAM_RUNS: usize = 31;
const FRAMES: usize = 2000;

/// Streams the same request through `fetch` (the relay's) and through an unwrapped fetch from a blank
/// iframe (initialization scripts run in the top frame only), alternating which goes first, with a pause
/// between runs so one run's charge (an fsync in Rust) never overlaps the next, and returns the timings.
const STREAM_TIMINGS: &str = r#"
const [url, runs, done] = arguments;
const frame = document.createElement('iframe');
frame.src = 'about:blank';
document.body.appendChild(frame);
const bare = frame.contentWindow.fetch.bind(frame.contentWindow);
async function time(fetchFn, n) {
  const body = JSON.stringify({ inputs: {}, query: 'bench ' + n, conversation_id: '', response_mode: 'streaming' });
  const start = performance.now();
  const response = await fetchFn(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  const reader = response.body.getReader();
  await reader.read();
  const firstByte = performance.now() - start;
  while (!(await reader.read()).done) {}
  return [firstByte, performance.now() - start];
}
// The relay's floor: the same unwrapped fetch with its body teed and the copy read, as the relay reads it.
async function teed(url, init) {
  const response = await bare(url, init);
  const reader = response.clone().body.getReader();
  (async () => { while (!(await reader.read()).done) {} })();
  return response;
}
// The cost of asking Rust beside the request: the unwrapped fetch with one IPC call issued just after it,
// as the relay binds a send.
async function asking(url, init) {
  const pending = bare(url, init);
  window.__TAURI_INTERNALS__.invoke('relay_status', {}).catch(() => {});
  return pending;
}
(async () => {
  const relay = [], plain = [], tee = [], ipc = [];
  const pause = () => new Promise(resolve => setTimeout(resolve, 250));
  for (let n = 0; n < runs; n++) {
    if (n % 2) plain.push(await time(bare, n));
    relay.push(await time(window.fetch, n));
    await pause();
    if (!(n % 2)) plain.push(await time(bare, n));
    tee.push(await time(teed, n));
    await pause();
    ipc.push(await time(asking, n));
    await pause();
  }
  done({ relay, plain, tee, ipc });
})().catch(error => done({ error: String(error) }));
"#;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `combine` of each run with the relay and the run without it beside it (the two are timed back to
/// back, so what the shared machine does to one it mostly does to the other), with the median, min and
/// max of the results.
fn paired(
    timings: &serde_json::Value,
    index: usize,
    combine: impl Fn(f64, f64) -> f64,
) -> (f64, f64, f64) {
    let values: Vec<f64> = column(&timings["relay"], index)
        .into_iter()
        .zip(column(&timings["plain"], index))
        .map(|(relay, plain)| combine(relay, plain))
        .collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(values), min, max)
}

fn column(runs: &serde_json::Value, index: usize) -> Vec<f64> {
    runs.as_array()
        .into_iter()
        .flatten()
        .filter_map(|run| run[index].as_f64())
        .collect()
}

#[tokio::main]
async fn main() -> Outcome {
    let binary = tokendesk_e2e::app_binary();
    let size_mb = std::fs::metadata(&binary)?.len() as f64 / 1_048_576.0;

    let mut starts = Vec::new();
    for _ in 0..STARTS {
        let app = DesktopApp::launch(Setup::default()).await?;
        app.to_dashboard().await?;
        starts.push(app.session_requested_at.elapsed().as_secs_f64());
        app.finish().await?;
    }

    let stream = SimConfig {
        pieces: FRAMES,
        answer: Some("x".repeat(FRAMES * 8)),
        ..quick_sim()
    };
    let app = DesktopApp::launch(Setup {
        sim: stream,
        ..Setup::default()
    })
    .await?;
    // No flood guard while the bench streams dozens of replies a minute.
    let mut ledger = app.ledger()?;
    let mut policy = ledger.policy()?;
    policy.flood_max_per_minute = 0;
    ledger.set_policy(&policy, "bench")?;
    app.to_chat().await?;
    let mut timeouts = app.client.get_timeouts().await?;
    timeouts.set_script(Some(Duration::from_secs(300)));
    app.client.update_timeouts(timeouts).await?;
    let url = format!("{}/api/chat-messages", app.sim.base_url());
    let timings = app
        .client
        .execute_async(STREAM_TIMINGS, vec![json!(url), json!(STREAM_RUNS)])
        .await?;
    app.finish().await?;
    if let Some(error) = timings.get("error") {
        return Err(format!("stream timing failed: {error}").into());
    }
    let (relay_first, plain_first) = (
        median(column(&timings["relay"], 0)),
        median(column(&timings["plain"], 0)),
    );
    let (tee_first, tee_total) = (
        median(column(&timings["tee"], 0)),
        median(column(&timings["tee"], 1)),
    );
    let (ipc_first, ipc_total) = (
        median(column(&timings["ipc"], 0)),
        median(column(&timings["ipc"], 1)),
    );
    let (relay_total, plain_total) = (
        median(column(&timings["relay"], 1)),
        median(column(&timings["plain"], 1)),
    );
    let cold_start = median(starts);
    let (added, added_min, added_max) = paired(&timings, 0, |relay, plain| relay - plain);
    let (ratio, ratio_min, ratio_max) = paired(&timings, 1, |relay, plain| relay / plain);
    let report = json!({
        "p3_frames": FRAMES,
        "p3_first_byte_ms_relay": relay_first,
        "p3_first_byte_ms_plain": plain_first,
        "p3_first_byte_added_ms": added,
        "p3_first_byte_ratio": relay_first / plain_first,
        "p3_total_ms_relay": relay_total,
        "p3_total_ms_plain": plain_total,
        "p3_total_ratio": ratio,
        "p3_first_byte_ms_tee_only": tee_first,
        "p3_total_ms_tee_only": tee_total,
        "p3_first_byte_ms_ipc_beside": ipc_first,
        "p3_total_ms_ipc_beside": ipc_total,
        "p4_binary_mb": size_mb,
        "p4_cold_start_s": cold_start,
    });
    println!("P3 relay, {FRAMES}-frame stream (median of {STREAM_RUNS}):");
    println!(
        "  first byte: {relay_first:.2} ms with the relay, {plain_first:.2} ms without; added per run beside \
         its plain twin: median +{added:.2} ms (min {added_min:+.2}, max {added_max:+.2}; goal ≤ 1 ms; \
         the page's clock counts whole ms)"
    );
    println!(
        "  whole stream: {relay_total:.1} ms with, {plain_total:.1} ms without; ratio per run beside its \
         plain twin: median ×{ratio:.2} (min ×{ratio_min:.2}, max ×{ratio_max:.2}; goal ≤ ×1.05)"
    );
    println!(
        "  the tee alone (the copy the relay reads, without the relay): first byte {tee_first:.2} ms, whole stream {tee_total:.1} ms"
    );
    println!(
        "  one IPC call beside the request (as a send is bound, without the relay): first byte {ipc_first:.2} ms, whole stream {ipc_total:.1} ms"
    );
    println!(
        "P4 binary {}: {size_mb:.1} MB (goal ≤ 20 MB)",
        binary.display()
    );
    println!(
        "P4 cold start to a usable dashboard (median of {STARTS}, WebDriver session included): {cold_start:.2} s (goal ≤ 1.5 s)"
    );
    println!("{report}");
    Ok(())
}
