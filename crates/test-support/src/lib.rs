//! What the tests of the org server and its clients share: a throw-away PostgreSQL 15 cluster (one per test
//! binary, a database per test), a TCP proxy that cuts connections mid-request or mid-response, and the
//! Dify frame a device charges.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

/// What a chat message sent from a browser got: Dify's ids for its conversation and its message, and the
/// stream as sent.
pub struct BrowserReply {
    pub conversation_id: String,
    pub message_id: String,
    pub body: String,
}

/// A chat message as Dify's web app sends it from a plain browser: a passport for the app `code` (under
/// `user_id`, as a share URL's `sys.user_id` names it), then the message (in `conversation_id`, or a new
/// conversation when empty), streamed to its end.
pub async fn browser_chat(
    base_url: &str,
    code: &str,
    user_id: Option<&str>,
    conversation_id: &str,
    query: &str,
) -> BrowserReply {
    let (http, token) = passport(base_url, code, user_id).await;
    let body = http
        .post(format!("{base_url}/api/chat-messages"))
        .bearer_auth(&token)
        .json(
            &serde_json::json!({"inputs": {}, "query": query, "conversation_id": conversation_id,
                                  "response_mode": "streaming"}),
        )
        .send()
        .await
        .expect("chat")
        .text()
        .await
        .expect("stream");
    let frame = first_frame(&body);
    let id = |field: &str| {
        frame[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {frame}"))
            .to_owned()
    };
    BrowserReply {
        conversation_id: id("conversation_id"),
        message_id: id("message_id"),
        body,
    }
}

/// A workflow app run from a plain browser, as [`browser_chat`] sends a message; returns Dify's run id.
pub async fn browser_workflow_run(base_url: &str, code: &str, user_id: Option<&str>) -> String {
    let (http, token) = passport(base_url, code, user_id).await;
    let body = http
        .post(format!("{base_url}/api/workflows/run"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"inputs": {"topic": "spring"}, "response_mode": "streaming"}))
        .send()
        .await
        .expect("run")
        .text()
        .await
        .expect("stream");
    let frame = first_frame(&body);
    frame["workflow_run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no workflow_run_id in {frame}"))
        .to_owned()
}

/// The first data frame of a stream.
fn first_frame(body: &str) -> serde_json::Value {
    let first = body
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .expect("a frame");
    serde_json::from_str(first).expect("frame JSON")
}

/// A web-app passport for the app `code` under `user_id`, and the client to use it with.
async fn passport(base_url: &str, code: &str, user_id: Option<&str>) -> (reqwest::Client, String) {
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client");
    let user = user_id.map_or_else(String::new, |id| format!("?user_id={id}"));
    let passport = http
        .get(format!("{base_url}/api/passport{user}"))
        .header("X-App-Code", code)
        .send()
        .await
        .expect("passport");
    assert_eq!(passport.status(), 200, "the passport");
    let passport: serde_json::Value = passport.json().await.expect("passport JSON");
    let token = passport["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();
    (http, token)
}

/// One new conversation's first reply from a plain browser ([`browser_chat`]); its message id.
pub async fn browser_reply(base_url: &str, code: &str, user_id: Option<&str>) -> String {
    browser_chat(base_url, code, user_id, "", "hello")
        .await
        .message_id
}

/// A reply's `message_end` frame, as the relay hands it to the ledger, with the usage a test chooses.
pub fn message_end(message_id: &str, prompt_tokens: u64, completion_tokens: u64) -> String {
    serde_json::json!({
        "event": "message_end", "message_id": message_id, "id": message_id, "conversation_id": "c",
        "metadata": {"usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                               "total_price": "0", "currency": "USD"}},
    })
    .to_string()
}

/// A PostgreSQL cluster in a temp dir, listening on 127.0.0.1 only, with `trust` auth for `postgres`.
///
/// Its lifetime is tied to the test process by a watchdog: a `sh` child whose stdin is a pipe from this
/// process. The kernel closes that pipe when the process ends in any way (normal exit, panic, abort,
/// SIGKILL), the watchdog's `read` sees end-of-file, and it stops the cluster and removes its dir. That is
/// what stops [`Cluster::shared`], which lives in a static and is never dropped; dropping an owned
/// `Cluster` closes the pipe early and waits for the watchdog, so the same code stops both.
pub struct Cluster {
    port: u16,
    bindir: PathBuf,
    dir: PathBuf,
    watchdog: Option<(ChildStdin, Child)>,
    next_db: AtomicU64,
}

impl Cluster {
    /// A cluster for tests: `fsync=off`, since a test's data need not survive a crash of the machine.
    pub fn start() -> io::Result<Cluster> {
        Self::start_with(false)
    }

    /// `durable`: fsync and synchronous commit on, as in production (for benchmarks).
    pub fn start_with(durable: bool) -> io::Result<Cluster> {
        let bindir = bindir()?;
        let dir = tempfile::Builder::new()
            .prefix("tokendesk-pg-")
            .tempdir()?
            .keep();
        let as_root = is_root()?;
        if as_root {
            run(Command::new("chown").arg("postgres:").arg(&dir))?;
        }
        let data = dir.join("data");
        // Armed before initdb so that even a failed start leaves nothing behind.
        let watchdog = spawn_watchdog(&bindir, &dir, &data, as_root)?;
        let mut cluster = Cluster {
            port: 0,
            bindir,
            dir,
            watchdog: Some(watchdog),
            next_db: AtomicU64::new(1),
        };
        let pg = |tool: &str| cluster.pg_command(tool, as_root);
        run(pg("initdb")
            .args([
                "-A",
                "trust",
                "--no-sync",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(&data))?;
        let fsync = if durable { "on" } else { "off" };
        let mut last_error = None;
        // A free port can be taken by someone else before postgres binds it: retry with another.
        for _ in 0..5 {
            let port = free_port()?;
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync={fsync} -c synchronous_commit={fsync} \
                 -c full_page_writes={fsync} -c max_connections=300",
                cluster.dir.display()
            );
            let started = run(pg("pg_ctl")
                .args(["-w", "-t", "60", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(cluster.dir.join("postgres.log"))
                .args(["-o", &options, "start"]));
            match started {
                Ok(_) => {
                    cluster.port = port;
                    return Ok(cluster);
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("postgres did not start")))
    }

    /// One cluster for the whole test binary, started on first use and stopped when the process ends.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| {
            Cluster::start().unwrap_or_else(|error| panic!("cannot start PostgreSQL: {error}"))
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A fresh, empty database; its URL, e.g. `postgres://postgres@127.0.0.1:PORT/t_1234_1`.
    pub fn database(&self) -> String {
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            self.next_db.fetch_add(1, Ordering::Relaxed)
        );
        let created = run(Command::new(self.bindir.join("createdb"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(&name));
        if let Err(error) = created {
            panic!("createdb {name}: {error}");
        }
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL with `psql` against a database URL; the unaligned, tuples-only output, trimmed.
    pub fn psql(&self, url: &str, sql: &str) -> io::Result<String> {
        let output = run(Command::new(self.bindir.join("psql")).args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ]))?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn pg_command(&self, tool: &str, as_root: bool) -> Command {
        let program = self.bindir.join(tool);
        if as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some((stdin, mut child)) = self.watchdog.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn spawn_watchdog(
    bindir: &Path,
    dir: &Path,
    data: &Path,
    as_root: bool,
) -> io::Result<(ChildStdin, Child)> {
    // Ignores the terminal's signals (Ctrl-C reaches the whole process group) so it outlives the tests
    // long enough to clean up; `read` returns only at end-of-file.
    let script = r#"trap '' INT TERM HUP
while read -r _; do :; done
if [ -f "$3/postmaster.pid" ]; then
  if [ "$4" = 1 ]; then runuser -u postgres -- "$1/pg_ctl" -D "$3" -m immediate -w stop
  else "$1/pg_ctl" -D "$3" -m immediate -w stop; fi
fi >/dev/null 2>&1
rm -rf "$2""#;
    let mut child = Command::new("sh")
        .args(["-c", script, "watchdog"])
        .arg(bindir)
        .arg(dir)
        .arg(data)
        .arg(if as_root { "1" } else { "0" })
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("watchdog has no stdin"))?;
    Ok((stdin, child))
}

fn bindir() -> io::Result<PathBuf> {
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
    if debian.join("initdb").is_file() {
        return Ok(debian);
    }
    let output = run(Command::new("pg_config").arg("--bindir")).map_err(|error| {
        io::Error::other(format!(
            "PostgreSQL 15 not found (pg_config --bindir: {error})"
        ))
    })?;
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

fn is_root() -> io::Result<bool> {
    Ok(std::fs::metadata("/proc/self")?.uid() == 0)
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs a command to completion; an error carries its stderr when it fails.
fn run(command: &mut Command) -> io::Result<Output> {
    let output = command.stdin(Stdio::null()).output()?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(io::Error::other(format!(
            "{:?} failed ({}): {}{}",
            command.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            String::from_utf8_lossy(&output.stdout).trim()
        )))
    }
}

/// Where a [`CuttingProxy`] cuts a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// After forwarding about half of the first bytes the client sent: the server never sees a whole request.
    MidRequest,
    /// After the server began to answer, before the client gets any of it: the server did the work (and
    /// committed) but the client cannot know.
    MidResponse,
}

/// A TCP proxy on 127.0.0.1 that forwards to `target` and cuts chosen connections, in std threads.
///
/// Cuts are decided per connection, so clients under test should not keep connections alive across
/// requests (e.g. reqwest's `pool_max_idle_per_host(0)`) when every request should be a candidate.
pub struct CuttingProxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
    accept: Option<JoinHandle<()>>,
}

struct ProxyShared {
    target: SocketAddr,
    stop: AtomicBool,
    /// The network is down: every connection is closed at once, live ones included.
    offline: AtomicBool,
    plan: Mutex<Plan>,
    connections: AtomicU64,
    cuts_mid_request: AtomicU64,
    cuts_mid_response: AtomicU64,
    /// Clones of the live client sockets, to end them on drop.
    live: Mutex<HashMap<u64, TcpStream>>,
}

#[derive(Default)]
struct Plan {
    forced: Vec<Cut>,
    every: u32,
    /// xorshift64 state and the chance of a cut in thousandths.
    random: Option<(u64, u32)>,
    decided: u64,
}

impl Plan {
    fn next(&mut self) -> Option<Cut> {
        self.decided += 1;
        if !self.forced.is_empty() {
            return Some(self.forced.remove(0));
        }
        if let Some((state, per_mille)) = &mut self.random {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            let draw = *state % 2000;
            return match draw {
                d if d < u64::from(*per_mille) => Some(Cut::MidRequest),
                d if d >= 1000 && d - 1000 < u64::from(*per_mille) => Some(Cut::MidResponse),
                _ => None,
            };
        }
        if self.every > 0 && self.decided.is_multiple_of(u64::from(self.every)) {
            let nth_cut = self.decided / u64::from(self.every);
            return Some(if nth_cut % 2 == 1 {
                Cut::MidRequest
            } else {
                Cut::MidResponse
            });
        }
        None
    }
}

impl CuttingProxy {
    /// Forwards every connection unchanged until told to cut.
    pub fn start(target: SocketAddr) -> CuttingProxy {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("proxy bind: {error}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("proxy address: {error}"));
        let shared = Arc::new(ProxyShared {
            target,
            stop: AtomicBool::new(false),
            offline: AtomicBool::new(false),
            plan: Mutex::new(Plan::default()),
            connections: AtomicU64::new(0),
            cuts_mid_request: AtomicU64::new(0),
            cuts_mid_response: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        });
        let accept = {
            let shared = shared.clone();
            std::thread::spawn(move || accept_loop(listener, shared))
        };
        CuttingProxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, to hand to an HTTP client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Takes the network down (every live connection ends, pooled ones included, and new ones are closed
    /// unanswered) or brings it back.
    pub fn set_offline(&self, offline: bool) {
        self.shared.offline.store(offline, Ordering::SeqCst);
        if offline {
            self.shared.end_live_connections();
        }
    }

    /// Cuts every `n`-th connection (0: none), alternately mid-request and mid-response.
    pub fn set_cut_every(&self, n: u32) {
        self.plan().every = n;
    }

    /// Cuts each connection with a chance of `per_mille`/1000 mid-request and as much mid-response, from a
    /// seeded generator, so a failing run can be replayed. Overrides [`set_cut_every`](Self::set_cut_every).
    pub fn set_random(&self, seed: u64, per_mille: u32) {
        self.plan().random = Some((seed.max(1), per_mille.min(500)));
    }

    /// The next connection is cut this way, whatever else is set (queued, in order).
    pub fn cut_next(&self, cut: Cut) {
        self.plan().forced.push(cut);
    }

    /// Connections cut so far, both kinds.
    pub fn cuts(&self) -> u64 {
        self.cuts_mid_request() + self.cuts_mid_response()
    }

    pub fn cuts_mid_request(&self) -> u64 {
        self.shared.cuts_mid_request.load(Ordering::SeqCst)
    }

    pub fn cuts_mid_response(&self) -> u64 {
        self.shared.cuts_mid_response.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.shared
            .plan
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        self.shared.end_live_connections();
    }
}

impl ProxyShared {
    fn forget(&self, id: u64) {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&id);
    }

    fn end_live_connections(&self) {
        let live = self
            .live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for stream in live.values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<ProxyShared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let id = shared.connections.fetch_add(1, Ordering::SeqCst);
        // Live before the offline check: `set_offline` sets the flag, then ends the live connections, so
        // either this sees the flag or that sees this connection.
        if let Ok(clone) = client.try_clone() {
            shared
                .live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, clone);
        }
        if shared.offline.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            shared.forget(id);
            continue;
        }
        let cut = shared
            .plan
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .next();
        let shared = shared.clone();
        std::thread::spawn(move || {
            let _ = proxy_connection(&client, &shared, cut);
            let _ = client.shutdown(Shutdown::Both);
            shared.forget(id);
        });
    }
}

fn proxy_connection(client: &TcpStream, shared: &ProxyShared, cut: Option<Cut>) -> io::Result<()> {
    let server = TcpStream::connect(shared.target)?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let upstream = {
        let (mut from, mut to) = (client.try_clone()?, server.try_clone()?);
        match cut {
            Some(Cut::MidRequest) => None,
            _ => Some(std::thread::spawn(move || {
                let _ = io::copy(&mut from, &mut to);
                let _ = to.shutdown(Shutdown::Write);
            })),
        }
    };
    let result = match cut {
        Some(Cut::MidRequest) => {
            let mut buffer = [0u8; 64 * 1024];
            let read = (&*client).read(&mut buffer)?;
            (&server).write_all(&buffer[..read / 2])?;
            shared.cuts_mid_request.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        Some(Cut::MidResponse) => {
            let mut buffer = [0u8; 1];
            // The first byte of the answer: the server has finished the request.
            if (&server).read(&mut buffer)? > 0 {
                shared.cuts_mid_response.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }
        None => io::copy(&mut &server, &mut &*client).map(drop),
    };
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    if let Some(upstream) = upstream {
        let _ = upstream.join();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_makes_databases_that_answer_and_stops_on_drop() {
        let cluster = Cluster::start().expect("cluster");
        let first = cluster.database();
        let second = cluster.database();
        assert_ne!(first, second);
        assert_eq!(cluster.psql(&first, "select 1").unwrap(), "1");
        cluster
            .psql(
                &first,
                "create table t (x int); insert into t values (41), (1)",
            )
            .unwrap();
        assert_eq!(cluster.psql(&first, "select sum(x) from t").unwrap(), "42");
        // Databases are separate.
        assert!(cluster.psql(&second, "select * from t").is_err());
        let dir = cluster.dir.clone();
        let port = cluster.port();
        drop(cluster);
        assert!(!dir.exists(), "the cluster's dir is removed");
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "postgres stopped"
        );
    }

    #[test]
    fn the_shared_cluster_is_one_cluster() {
        let a = Cluster::shared();
        let b = Cluster::shared();
        assert!(std::ptr::eq(a, b));
        assert_eq!(
            a.psql(&a.database(), "select current_user").unwrap(),
            "postgres"
        );
    }

    /// Answers each connection's bytes uppercased, after reading `len` of them.
    fn upper_server(len: usize) -> (SocketAddr, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let complete = Arc::new(AtomicU64::new(0));
        let counter = complete.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut request = vec![0u8; len];
                    if stream.read_exact(&mut request).is_ok() {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let _ = stream.write_all(&request.to_ascii_uppercase());
                    }
                });
            }
        });
        (addr, complete)
    }

    fn exchange(addr: SocketAddr, request: &[u8]) -> io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect(addr)?;
        stream.write_all(request)?;
        stream.shutdown(Shutdown::Write)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        Ok(answer)
    }

    #[test]
    fn the_proxy_forwards_and_cuts_where_told() {
        let request = b"hello through the proxy";
        let (target, complete) = upper_server(request.len());
        let proxy = CuttingProxy::start(target);
        assert_eq!(
            exchange(proxy.addr(), request).unwrap(),
            request.to_ascii_uppercase()
        );
        assert_eq!(proxy.cuts(), 0);

        proxy.cut_next(Cut::MidResponse);
        let answer = exchange(proxy.addr(), request).unwrap_or_default();
        assert!(
            answer.is_empty(),
            "no answer reaches the client: {answer:?}"
        );
        assert_eq!(proxy.cuts_mid_response(), 1);
        assert_eq!(
            complete.load(Ordering::SeqCst),
            2,
            "but the server did see the whole request"
        );

        proxy.cut_next(Cut::MidRequest);
        let answer = exchange(proxy.addr(), request).unwrap_or_default();
        assert!(answer.is_empty());
        assert_eq!(proxy.cuts_mid_request(), 1);

        proxy.set_cut_every(2);
        let answers: Vec<bool> = (0..4)
            .map(|_| {
                !exchange(proxy.addr(), request)
                    .unwrap_or_default()
                    .is_empty()
            })
            .collect();
        assert_eq!(answers.iter().filter(|&&ok| ok).count(), 2, "{answers:?}");
        assert_eq!(proxy.cuts(), 4);
        assert_eq!(proxy.connections(), 7);
        // Every whole request reached the server, the cut-mid-request ones never did.
        assert_eq!(
            complete.load(Ordering::SeqCst),
            7 - proxy.cuts_mid_request()
        );
    }

    #[test]
    fn seeded_cuts_replay_the_same() {
        let pattern = |seed| {
            let mut plan = Plan {
                random: Some((seed, 300)),
                ..Plan::default()
            };
            (0..200).map(|_| plan.next()).collect::<Vec<_>>()
        };
        let first = pattern(7);
        assert_eq!(first, pattern(7));
        let cuts = first.iter().filter(|cut| cut.is_some()).count();
        assert!((60..=180).contains(&cuts), "about 60% cut: {cuts}");
        assert!(first.contains(&Some(Cut::MidRequest)) && first.contains(&Some(Cut::MidResponse)));
    }
}
