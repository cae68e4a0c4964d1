//! Desktop figures, on the real app under Xvfb:
//! - the relay's overhead on a 2000-frame stream in the real webview (time to first byte and total, with the
//!   relay's wrapped fetch against the page's own unwrapped fetch), driven by WebDriver;
//! - the cold start, from spawning the app (no WebDriver) to the dashboard's first paint of the balance, which
//!   the page reports to the shell and the shell prints, with the demo simulator running as a new user has it;
//! - memory: the proportional set size of the app and every WebKit process it started, with the chat and the
//!   dashboard open;
//! - the binary's size.
//!
//! `--ledger-report FILE` adds the figures of `tokendesk bench --json` saved in FILE, and `--json-out FILE`
//! writes every figure as one JSON object to FILE. Run by scripts/bench.sh, which builds the release binary first.

use dify_sim::SimConfig;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokendesk_e2e::{DesktopApp, Outcome, PATIENCE, Setup, quick_sim};
use tokendesk_ledger::Ledger;
use tokendesk_ledger::bench::Figure;
use tokendesk_ledger::sync::Mode;

/// Measured starts, after one that fills the caches a first start creates.
const STARTS: usize = 15;
/// Starts whose memory is read, once the chat and the dashboard have loaded and settled.
const MEMORY_STARTS: usize = 5;
const SETTLE: Duration = Duration::from_secs(5);
/// What the shell prints when the dashboard first shows the balance.
const PAINTED: &str = "the dashboard showed the balance";
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

fn median(values: Vec<f64>) -> f64 {
    Figure::of(values).median
}

/// `combine` of each run with the relay and the run without it beside it (the two are timed back to
/// back, so what the shared machine does to one it mostly does to the other), with the median, min and
/// max of the results.
fn paired(timings: &Value, index: usize, combine: impl Fn(f64, f64) -> f64) -> Figure {
    Figure::of(
        column(&timings["relay"], index)
            .into_iter()
            .zip(column(&timings["plain"], index))
            .map(|(relay, plain)| combine(relay, plain))
            .collect(),
    )
}

fn column(runs: &Value, index: usize) -> Vec<f64> {
    runs.as_array()
        .into_iter()
        .flatten()
        .filter_map(|run| run[index].as_f64())
        .collect()
}

/// A data directory in the demo, chosen as a new user chooses it on the first start, with the desktop's
/// settings, caches and webview storage beside it.
fn demo_home() -> Outcome<tempfile::TempDir> {
    let home = tempfile::tempdir()?;
    Ledger::open_dir(&home.path().join("ledger"))?.choose_mode(Mode::Demo)?;
    Ok(home)
}

/// The app, started straight from its binary as a double-click starts it.
struct Started {
    app: Child,
    /// From spawning the process to the shell's line saying the dashboard showed the balance.
    painted_after: Duration,
    /// What the shell measured itself, from its first instruction.
    reported_ms: f64,
}

fn start(home: &Path) -> Outcome<Started> {
    let mut command = Command::new(tokendesk_e2e::app_binary());
    for (variable, folder) in [
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
    ] {
        let folder = home.join(folder);
        std::fs::create_dir_all(&folder)?;
        command.env(variable, folder);
    }
    let spawned = Instant::now();
    let mut app = command
        .arg("--data-dir")
        .arg(home.join("ledger"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = app.stderr.take().ok_or("the app has no stderr")?;
    let (painted, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end, so the app never blocks on a full pipe.
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(reported) = line
                .split_once(PAINTED)
                .and_then(|(_, rest)| rest.split_whitespace().next()?.parse::<f64>().ok())
            {
                let _ = painted.send((spawned.elapsed(), reported));
            }
        }
    });
    match heard.recv_timeout(PATIENCE) {
        Ok((painted_after, reported_ms)) => Ok(Started {
            app,
            painted_after,
            reported_ms,
        }),
        Err(_) => {
            stop(app);
            Err("the dashboard never reported showing the balance".into())
        }
    }
}

/// Every process `root` started, and theirs, from the kernel's process table.
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The parent is the second field after the command name, which may itself hold spaces.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(parent) = parent {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut next = vec![root];
    while let Some(pid) = next.pop() {
        if let Some(kids) = children.get(&pid) {
            found.extend(kids);
            next.extend(kids);
        }
    }
    found
}

fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| pid.to_string())
}

/// A process's proportional set size in MB (its private pages, and its share of pages it shares).
fn pss_mb(pid: u32) -> Option<f64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kib: f64 = rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The app and its processes' memory, once the chat's and the dashboard's web processes are up and settled.
fn memory(app: &Child) -> Outcome<Vec<(String, f64)>> {
    let since = Instant::now();
    let web_processes = || {
        descendants(app.id())
            .into_iter()
            .filter(|pid| process_name(*pid).starts_with("WebKitWebProces"))
            .count()
    };
    while web_processes() < 2 {
        if since.elapsed() > PATIENCE {
            return Err("the chat's and the dashboard's web processes never both started".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(SETTLE);
    let mut processes = vec![app.id()];
    processes.extend(descendants(app.id()));
    Ok(processes
        .into_iter()
        .filter_map(|pid| Some((format!("{} ({pid})", process_name(pid)), pss_mb(pid)?)))
        .collect())
}

/// Stops the app and waits for the processes it started, so the next start meets an idle machine.
fn stop(mut app: Child) {
    let started = descendants(app.id());
    let _ = app.kill();
    let _ = app.wait();
    let since = Instant::now();
    while started
        .iter()
        .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
    {
        if since.elapsed() > PATIENCE {
            for pid in &started {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct StartFigures {
    cold_start_s: Figure,
    reported_s: Figure,
    memory_mb: Figure,
    /// The processes of the start whose total is the median.
    memory_by_process: Vec<(String, f64)>,
}

fn starts() -> Outcome<StartFigures> {
    let home = demo_home()?;
    stop(start(home.path())?.app);
    let (mut painted, mut reported, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..STARTS {
        let started = start(home.path())?;
        painted.push(started.painted_after.as_secs_f64());
        reported.push(started.reported_ms / 1000.0);
        if run < MEMORY_STARTS {
            let processes = memory(&started.app);
            stop(started.app);
            let processes = processes?;
            totals.push((processes.iter().map(|(_, mb)| mb).sum::<f64>(), processes));
        } else {
            stop(started.app);
        }
    }
    totals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let sums: Vec<f64> = totals.iter().map(|(total, _)| *total).collect();
    Ok(StartFigures {
        cold_start_s: Figure::of(painted),
        reported_s: Figure::of(reported),
        memory_mb: Figure::of(sums),
        memory_by_process: totals.swap_remove(totals.len() / 2).1,
    })
}

/// The ledger's figures from `tokendesk bench --json`, each with its spread.
fn print_ledger_figures(ledger: &Value) {
    let figure = |key: &str| {
        let value = &ledger[key];
        format!(
            "{:.3} (min {:.3}, max {:.3}; {} runs)",
            value["median"].as_f64().unwrap_or(f64::NAN),
            value["min"].as_f64().unwrap_or(f64::NAN),
            value["max"].as_f64().unwrap_or(f64::NAN),
            value["runs"]
        )
    };
    let filesystem = &ledger["filesystem"];
    println!(
        "Ledger, {} entries, on {} ({}):",
        ledger["rows"], filesystem["mount_point"], filesystem["kind"]
    );
    println!(
        "  P1 charge over a bare fsync'd commit: ×{} (goal ≤ 1.2)",
        figure("p1_ratio")
    );
    println!(
        "  P1 WAL pages per charge {}, per one-row commit {}",
        figure_median(&ledger["p1_charge_wal"]["pages"]),
        figure_median(&ledger["p1_insert_wal"]["pages"])
    );
    println!("  P2 dashboard: {} ms (goal ≤ 5 ms)", figure("p2_ms"));
    println!(
        "  P2 straightforward design: {} ms; ratio ×{:.0} (goal ≥ 50)",
        figure("p2_baseline_ms"),
        ledger["p2_ratio"].as_f64().unwrap_or(f64::NAN)
    );
    println!("  P3 history page: {} ms (goal ≤ 2 ms)", figure("p3_ms"));
    println!(
        "  price import, {} entries: {} s (goal ≤ 0.5 s); again, nothing changed: {} s",
        ledger["import_entries"],
        figure("import_s"),
        figure("import_again_s")
    );
}

fn figure_median(figure: &Value) -> String {
    format!("{:.0}", figure["median"].as_f64().unwrap_or(f64::NAN))
}

struct Options {
    /// Where to write every figure as one JSON object, instead of the text: a file, because the desktop
    /// services the session starts may print to the same standard output.
    json_out: Option<String>,
    ledger_report: Option<Value>,
}

fn options() -> Outcome<Options> {
    let mut options = Options {
        json_out: None,
        ledger_report: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json-out" => options.json_out = Some(args.next().ok_or("--json-out needs a file")?),
            "--ledger-report" => {
                let file = args.next().ok_or("--ledger-report needs a file")?;
                options.ledger_report =
                    Some(serde_json::from_str(&std::fs::read_to_string(file)?)?);
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; use --json-out FILE, --ledger-report FILE"
                )
                .into());
            }
        }
    }
    Ok(options)
}

fn stream_timings() -> Outcome<Value> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
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
        match timings.get("error") {
            Some(error) => Err(format!("stream timing failed: {error}").into()),
            None => Ok(timings),
        }
    })
}

fn main() -> Outcome {
    let options = options()?;
    let binary = tokendesk_e2e::app_binary();
    let size_mb = std::fs::metadata(&binary)?.len() as f64 / 1_048_576.0;
    let starts = starts()?;
    let timings = stream_timings()?;
    let (relay_first, plain_first) = (
        median(column(&timings["relay"], 0)),
        median(column(&timings["plain"], 0)),
    );
    let (relay_total, plain_total) = (
        median(column(&timings["relay"], 1)),
        median(column(&timings["plain"], 1)),
    );
    let (tee_first, tee_total) = (
        median(column(&timings["tee"], 0)),
        median(column(&timings["tee"], 1)),
    );
    let (ipc_first, ipc_total) = (
        median(column(&timings["ipc"], 0)),
        median(column(&timings["ipc"], 1)),
    );
    let added = paired(&timings, 0, |relay, plain| relay - plain);
    let ratio = paired(&timings, 1, |relay, plain| relay / plain);
    let (cold, own, memory) = (starts.cold_start_s, starts.reported_s, starts.memory_mb);
    let ledger = options.ledger_report.unwrap_or(Value::Null);
    let mut memory_by_process = json!(memory);
    memory_by_process["processes"] = starts
        .memory_by_process
        .iter()
        .map(|(name, mb)| json!({"process": name, "pss_mb": mb}))
        .collect();
    let report = json!({
        "p1_ratio": ledger["p1_ratio"]["median"],
        "p2_ms": ledger["p2_ms"]["median"],
        "p2_ratio": ledger["p2_ratio"],
        "p3_ms": ledger["p3_ms"]["median"],
        "cold_start_s": cold.median,
        "memory_mb": memory.median,
        "relay_first_byte_added_ms": added.median,
        "import_s": ledger["import_s"]["median"],
        "details": {
            "ledger": ledger,
            "cold_start_s": cold,
            "cold_start_s_measured_by_the_app": own,
            "memory_mb": memory_by_process,
            "relay_frames": FRAMES,
            "relay_runs": STREAM_RUNS,
            "relay_first_byte_added_ms": added,
            "relay_total_ratio": ratio,
            "relay_first_byte_ms": {"relay": relay_first, "plain": plain_first, "tee_only": tee_first,
                "ipc_beside": ipc_first},
            "relay_total_ms": {"relay": relay_total, "plain": plain_total, "tee_only": tee_total,
                "ipc_beside": ipc_total},
            "binary_mb": size_mb,
        },
    });
    if let Some(file) = options.json_out {
        std::fs::write(file, report.to_string())?;
        return Ok(());
    }
    if !ledger.is_null() {
        print_ledger_figures(&ledger);
    }
    println!(
        "Cold start, spawn to the dashboard's balance painted, demo simulator running, no WebDriver \
         (median of {STARTS}): {:.2} s (min {:.2}, max {:.2}; goal ≤ 1.0 s); \
         the app's own count from its first instruction: {:.2} s (min {:.2}, max {:.2})",
        cold.median, cold.min, cold.max, own.median, own.min, own.max
    );
    println!(
        "Memory, proportional set size of the app and its processes with the chat and the dashboard open \
         (median of {MEMORY_STARTS}): {:.0} MB (min {:.0}, max {:.0}; goal ≤ 250 MB)",
        memory.median, memory.min, memory.max
    );
    for (process, mb) in &starts.memory_by_process {
        println!("  {process}: {mb:.1} MB");
    }
    println!("Relay, {FRAMES}-frame stream (median of {STREAM_RUNS}):");
    println!(
        "  first byte: {relay_first:.2} ms with the relay, {plain_first:.2} ms without; added per run beside \
         its plain twin: median +{:.2} ms (min {:+.2}, max {:+.2}; goal ≤ 1 ms; \
         the page's clock counts whole ms)",
        added.median, added.min, added.max
    );
    println!(
        "  whole stream: {relay_total:.1} ms with, {plain_total:.1} ms without; ratio per run beside its \
         plain twin: median ×{:.2} (min ×{:.2}, max ×{:.2}; goal ≤ ×1.05)",
        ratio.median, ratio.min, ratio.max
    );
    println!(
        "  the tee alone (the copy the relay reads, without the relay): first byte {tee_first:.2} ms, whole stream {tee_total:.1} ms"
    );
    println!(
        "  one IPC call beside the request (as a send is bound, without the relay): first byte {ipc_first:.2} ms, whole stream {ipc_total:.1} ms"
    );
    println!(
        "Binary {}: {size_mb:.1} MB (goal ≤ 20 MB)",
        binary.display()
    );
    Ok(())
}
