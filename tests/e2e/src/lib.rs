//! Harness for the end-to-end tests: the real `tokendesk-desktop` binary under `tauri-driver`
//! (WebKitWebDriver), with a fresh data directory, its own Dify simulator and its own D-Bus session
//! per test.
//!
//! Needs: a display (run under `xvfb-run`), `dbus-daemon`, `tauri-driver` on PATH or in
//! ~/.cargo/bin, and the app built with `--features custom-protocol`
//! (`TOKENDESK_DESKTOP_BIN` points at it, else target/debug/tokendesk-desktop). Tests may run in
//! parallel threads: they take turns at the app.

use dify_sim::{AppKind, DifySim, SimConfig};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokendesk_ledger::Ledger;
use tokendesk_ledger::apps::AppBinding;

/// How long a step may take before the test gives up; a wait, never a measured assertion.
pub const PATIENCE: Duration = Duration::from_secs(30);
pub const MODEL: &str = "gpt-4o-mini";

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Outcome<T = ()> = Result<T, Error>;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The app under test: `TOKENDESK_DESKTOP_BIN`, else the debug build.
pub fn app_binary() -> PathBuf {
    std::env::var_os("TOKENDESK_DESKTOP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/tokendesk-desktop"))
}

fn tauri_driver() -> PathBuf {
    let installed =
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin/tauri-driver"));
    installed
        .filter(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

fn free_port() -> Outcome<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A D-Bus session daemon of one test's own.
struct SessionBus {
    daemon: Child,
    address: String,
}

impl SessionBus {
    fn start() -> Outcome<Self> {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start dbus-daemon: {err}"))?;
        let mut address = String::new();
        let stdout = daemon.stdout.take().ok_or("dbus-daemon has no stdout")?;
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut address)?;
        let address = address.trim().to_owned();
        if address.is_empty() {
            let _ = daemon.kill();
            return Err("dbus-daemon printed no address".into());
        }
        Ok(Self { daemon, address })
    }

    fn stop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// Polls `check` until it yields a value or [`PATIENCE`] runs out.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> Outcome<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Outcome<Option<T>>>,
{
    let start = Instant::now();
    let mut last_error = None;
    while start.elapsed() < PATIENCE {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("timed out waiting for {what} (last error: {last_error:?})").into())
}

/// Changes made to the fresh ledger before the app starts.
pub type Prepare = Box<dyn FnOnce(&mut Ledger, &DifySim) -> tokendesk_ledger::Result<()> + Send>;

/// How the ledger is set up before the app starts.
pub struct Setup {
    pub sim: SimConfig,
    /// The app's locale (`LANG`), e.g. `zh_CN.UTF-8`; the machine's when `None`.
    pub lang: Option<String>,
    /// Runs on the fresh ledger, after the app is registered.
    pub prepare: Prepare,
    /// A first run: no app registered and no `--dify-url`, so the dashboard offers the ways in.
    pub first_run: bool,
    /// The join form's server (`--server`).
    pub server_url: Option<String>,
    /// The app to run: [`app_binary`], unless a test runs another build of it (the installed package's).
    pub binary: PathBuf,
    /// More environment for the app, e.g. a shorter wait for a send's report.
    pub env: Vec<(&'static str, String)>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            sim: quick_sim(),
            lang: None,
            prepare: Box::new(|_, _| Ok(())),
            first_run: false,
            server_url: None,
            binary: app_binary(),
            env: Vec::new(),
        }
    }
}

/// A simulator with no artificial delays and fixed usage, so each reply's cost is known.
pub fn quick_sim() -> SimConfig {
    SimConfig {
        first_byte_delay_ms: 0,
        frame_delay_ms: 0,
        prompt_tokens: Some(1200),
        completion_tokens: Some(300),
        ..SimConfig::default()
    }
}

pub struct DesktopApp {
    pub client: Client,
    pub sim: DifySim,
    pub data_dir: tempfile::TempDir,
    pub share_url: String,
    driver: Child,
    /// Stopped after the driver, when the test is over.
    bus: SessionBus,
    /// Until [`DesktopApp::finish`]: a test that failed half-way still has to end its session.
    session_open: bool,
    /// Held until the app and its driver are gone (the last field drops last).
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// One app at a time in a test binary: two WebKit apps and drivers side by side on two cores make
/// every wait flaky, and `cargo test` runs the binaries one after another anyway.
static ONE_APP_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl DesktopApp {
    pub async fn launch(setup: Setup) -> Outcome<Self> {
        // A test that failed while it held the turn has ended its app all the same (Drop).
        let turn = ONE_APP_AT_A_TIME.lock().await;
        let sim = DifySim::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), setup.sim).await?;
        let share_url = sim.share_url(AppKind::Chat, "e2e");
        let data_dir = tempfile::tempdir()?;
        {
            let mut ledger = Ledger::open_dir(data_dir.path())?;
            if !setup.first_run {
                ledger.add_app("E2E", &share_url, &AppBinding::Model(MODEL.into()), false)?;
            }
            (setup.prepare)(&mut ledger, &sim)?;
        }
        let (port, native_port) = (free_port()?, free_port()?);
        let bus = SessionBus::start()?;
        let mut driver = Command::new(tauri_driver());
        // A D-Bus session of the test's own: the single-instance check of this app cannot find the
        // previous test's app, still closing, and hand over to it.
        driver.env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
        // The app's settings (window state), its webview's storage (the remembered language) and its
        // Downloads folder live in the test's folder too: nothing carries over from an earlier run.
        for (variable, folder) in [("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")] {
            let folder = data_dir.path().join(folder);
            std::fs::create_dir_all(&folder)?;
            driver.env(variable, folder);
        }
        let config_home = data_dir.path().join("config");
        std::fs::create_dir_all(&config_home)?;
        std::fs::write(
            config_home.join("user-dirs.dirs"),
            format!(
                "XDG_DOWNLOAD_DIR=\"{}\"\n",
                data_dir.path().join("Downloads").display()
            ),
        )?;
        driver.env("XDG_CONFIG_HOME", &config_home);
        driver.envs(setup.env.iter().map(|(name, value)| (name, value)));
        if let Some(lang) = &setup.lang {
            // The app inherits the driver's environment: WebKit and the shell both read the locale from it.
            driver
                .env("LANG", lang)
                .env("LC_ALL", lang)
                .env("LANGUAGE", lang.split('.').next().unwrap_or(lang));
        }
        let driver = driver
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .stdout(Stdio::null())
            // The driver's and the app's output (the app inherits it), shown when a test fails.
            .stderr(std::fs::File::create(data_dir.path().join("app.log"))?)
            .spawn()
            .map_err(|err| {
                format!("cannot start tauri-driver (cargo install tauri-driver --locked): {err}")
            })?;
        let mut args = vec![json!("--data-dir"), json!(data_dir.path())];
        if !setup.first_run {
            args.extend([json!("--dify-url"), json!(share_url)]);
        }
        if let Some(server) = &setup.server_url {
            args.extend([json!("--server"), json!(server)]);
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": setup.binary, "args": args }),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        eventually("tauri-driver to listen", || async {
            Ok(std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .ok()
                .map(drop))
        })
        .await?;
        let client = eventually("a WebDriver session", || {
            let (capabilities, webdriver) = (capabilities.clone(), webdriver.clone());
            async move {
                // The app may never come up (it exits at once, say): that is an error, not a hang.
                let mut builder = ClientBuilder::native();
                builder.capabilities(capabilities);
                match tokio::time::timeout(PATIENCE, builder.connect(&webdriver)).await {
                    Ok(Ok(client)) => Ok(Some(client)),
                    Ok(Err(error)) => Err(error.into()),
                    Err(_) => Err("the WebDriver session did not start".into()),
                }
            }
        })
        .await?;
        Ok(Self {
            client,
            sim,
            data_dir,
            share_url,
            driver,
            bus,
            session_open: true,
            _turn: turn,
        })
    }

    /// Ends the WebDriver session, which closes the app; dropping then stops the driver.
    pub async fn finish(mut self) -> Outcome {
        self.session_open = false;
        self.client.clone().close().await.map_err(Into::into)
    }

    /// Where the app saves what the user exports.
    pub fn downloads(&self) -> PathBuf {
        self.data_dir.path().join("Downloads")
    }

    /// A second view of the same ledger file, as the CLI or an admin would have.
    pub fn ledger(&self) -> Outcome<Ledger> {
        Ok(Ledger::open_dir(self.data_dir.path())?)
    }

    /// The replies' charges, newest first.
    pub fn charges(&self) -> Outcome<Vec<tokendesk_ledger::Entry>> {
        Ok(self
            .all_charges()?
            .into_iter()
            .filter(|entry| !is_side_call(entry))
            .collect())
    }

    /// The charges of Dify's calls beside the replies (auto-naming, suggested questions), newest first.
    pub fn side_call_charges(&self) -> Outcome<Vec<tokendesk_ledger::Entry>> {
        Ok(self
            .all_charges()?
            .into_iter()
            .filter(is_side_call)
            .collect())
    }

    fn all_charges(&self) -> Outcome<Vec<tokendesk_ledger::Entry>> {
        let query = tokendesk_ledger::stats::HistoryQuery {
            kind: Some(tokendesk_ledger::EntryKind::Charge),
            limit: 500,
            ..Default::default()
        };
        Ok(self.ledger()?.history(&query)?.entries)
    }

    /// Switches to the window whose URL starts with `prefix` and whose page has `selector`.
    pub async fn switch_to(&self, prefix: &str, selector: &str) -> Outcome {
        eventually(&format!("a window at {prefix} with {selector}"), || async {
            for handle in self.client.windows().await? {
                self.client.switch_to_window(handle).await?;
                let at = self.client.current_url().await?;
                if at.as_str().starts_with(prefix)
                    && self.client.find(Locator::Css(selector)).await.is_ok()
                {
                    return Ok(Some(()));
                }
            }
            Ok(None)
        })
        .await
    }

    pub async fn to_chat(&self) -> Outcome {
        self.switch_to(&self.sim.base_url(), "textarea#query").await
    }

    /// Opens one of TokenDesk's windows from the dashboard, as its buttons do.
    pub async fn open_window(&self, name: &str) -> Outcome {
        self.to_dashboard().await?;
        let opened = self
            .invoke_from_page("open_window", json!({ "name": name }))
            .await?;
        match opened.get("error") {
            Some(error) => Err(format!("open_window {name}: {error}").into()),
            None => Ok(()),
        }
    }

    pub async fn to_dashboard(&self) -> Outcome {
        self.switch_to("tauri://localhost", "[data-testid=balance]")
            .await
    }

    /// Types a question in the Dify page and sends it.
    pub async fn send(&self, text: &str) -> Outcome {
        let input = self.client.find(Locator::Css("textarea#query")).await?;
        input.clear().await?;
        input.send_keys(text).await?;
        self.client
            .find(Locator::Css("#send"))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Sends from the Dify page and sees the pre-send gate refuse it in Dify's own toast: Dify never gets
    /// the request, and nothing is charged.
    pub async fn send_is_refused(&self, question: &str) -> Outcome {
        let sent_before = self.sim.request_count("chat-messages");
        let charges_before = self.charges()?.len();
        self.send(question).await?;
        let toast = eventually("Dify's error toast", || async {
            let text = self.text_of("#toast").await?;
            Ok((!text.is_empty()).then_some(text))
        })
        .await?;
        assert!(toast.contains("TokenDesk"), "{toast}");
        assert_eq!(
            self.sim.request_count("chat-messages"),
            sent_before,
            "Dify never received the send"
        );
        assert_eq!(self.charges()?.len(), charges_before);
        Ok(())
    }

    /// Waits until `count` replies have finished streaming in the Dify page.
    pub async fn replies_done(&self, count: usize) -> Outcome {
        eventually(&format!("{count} finished replies"), || async {
            let done = self
                .client
                .find_all(Locator::Css(".message.answer[data-done=\"true\"]"))
                .await?;
            Ok((done.len() >= count).then_some(()))
        })
        .await
    }

    /// Waits until the ledger holds `count` charges.
    pub async fn charged(&self, count: usize) -> Outcome<Vec<tokendesk_ledger::Entry>> {
        eventually(&format!("{count} charges"), || async {
            let charges = self.charges()?;
            Ok((charges.len() >= count).then_some(charges))
        })
        .await
    }

    /// Runs a script in the current page that calls a Tauri command and reports how it ended.
    pub async fn invoke_from_page(&self, command: &str, args: Value) -> Outcome<Value> {
        let script = r#"
            const [command, args, done] = arguments;
            window.__TAURI_INTERNALS__.invoke(command, args)
                .then(value => done({ ok: value }), error => done({ error: String(error && error.message || error) }));
        "#;
        Ok(self
            .client
            .execute_async(script, vec![json!(command), args])
            .await?)
    }

    /// Waits for the element with this `data-testid`, e.g. in a modal that is still opening.
    pub async fn element(&self, test_id: &str) -> Outcome<Element> {
        let selector = format!("[data-testid={test_id}]");
        eventually(&selector, || async {
            Ok(self.client.find(Locator::Css(&selector)).await.ok())
        })
        .await
    }

    /// Replaces the text of the input with this `data-testid`, as a user would: select all, then type.
    /// Waits for the input to stand still first, as a click does: an opening modal zooms in.
    pub async fn fill(&self, test_id: &str, text: &str) -> Outcome {
        let input = self.element(test_id).await?;
        let what = format!("[data-testid={test_id}]");
        stand_still(&input, &what).await?;
        eventually(&format!("typing into {what}"), || async {
            // Ctrl+A and Backspace, so React sees the old text go (a WebDriver clear bypasses its events).
            let typed = async {
                input.send_keys("\u{E009}a\u{E009}\u{E003}").await?;
                input.send_keys(text).await
            };
            not_ready_yet(typed.await)
        })
        .await
    }

    /// Clicks the element with this `data-testid`, as [`DesktopApp::click_element`] does.
    pub async fn click(&self, test_id: &str) -> Outcome {
        let element = self.element(test_id).await?;
        self.click_element(&element, &format!("[data-testid={test_id}]"))
            .await
    }

    /// Clicks `element` (named `what` in errors) once it stands still and takes clicks: a drawer
    /// sliding in or a tab pane fading in moves it (a click would land where it was), and a closing
    /// modal or a fading message may still lie over it for a moment.
    pub async fn click_element(&self, element: &Element, what: &str) -> Outcome {
        stand_still(element, what).await?;
        eventually(&format!("a click on {what}"), || async {
            not_ready_yet(element.click().await)
        })
        .await
    }

    /// Opens a tab of the logged-in admin window.
    pub async fn admin_tab(&self, key: &str) -> Outcome {
        self.click(&format!("admin-tab-{key}")).await
    }

    /// Waits until the element with this `data-testid` shows some text, and returns it.
    pub async fn text_shown(&self, test_id: &str) -> Outcome<String> {
        eventually(&format!("text in [data-testid={test_id}]"), || async {
            let text = self.text_of(&format!("[data-testid={test_id}]")).await.ok();
            Ok(text.filter(|text| !text.trim().is_empty()))
        })
        .await
    }

    /// Opens the admin window and logs in (setting the password if none is set yet).
    pub async fn login_admin(&self, password: &str) -> Outcome {
        self.open_window("admin").await?;
        self.switch_to("tauri://localhost", "[data-testid=admin-password]")
            .await?;
        self.fill("admin-password", password).await?;
        if self
            .client
            .find(Locator::Css("[data-testid=admin-password-confirm]"))
            .await
            .is_ok()
        {
            self.fill("admin-password-confirm", password).await?;
        }
        self.click("admin-submit").await
    }

    pub async fn text_of(&self, selector: &str) -> Outcome<String> {
        Ok(self
            .client
            .find(Locator::Css(selector))
            .await?
            .text()
            .await?)
    }
}

/// A step that failed only because its element is not ready yet (still covered, or not yet shown by an
/// animation that has not started) is tried again; any other failure ends the wait.
fn not_ready_yet(done: Result<(), fantoccini::error::CmdError>) -> Outcome<Option<()>> {
    use fantoccini::error::{CmdError, ErrorStatus};
    match done {
        Ok(()) => Ok(Some(())),
        Err(CmdError::Standard(error))
            if matches!(
                error.error,
                ErrorStatus::ElementClickIntercepted | ErrorStatus::ElementNotInteractable
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// Whether the element or one of its ancestors is in a motion that ends (a drawer sliding in, a modal
/// zooming in, a pane fading in): a running CSS animation or transition, or an Ant Design motion class
/// (`ant-drawer-panel-motion-right-enter-start`, say), which sits still while it waits for a frame. A
/// spinner's endless animation does not count.
const ANIMATED: &str = r#"
const ends = (animation) => animation.effect && animation.effect.getComputedTiming().iterations !== Infinity;
const motionClass = /-(appear|enter|leave)(-(prepare|start|active))?$/;
for (let node = arguments[0]; node; node = node.parentElement) {
  if (node.getAnimations().some((animation) => animation.playState === 'running' && ends(animation))) return true;
  if ([...node.classList].some((name) => motionClass.test(name))) return true;
}
return false;
"#;

/// Waits until `element` (named `what` in errors) is where it was 100 ms ago and nothing moves it any
/// more: no longer sliding, fading or zooming in. Both, as WebKit under Xvfb may pause an animation
/// for longer than that between frames.
async fn stand_still(element: &Element, what: &str) -> Outcome {
    let start = Instant::now();
    let mut last = None;
    let client = element.clone().client();
    loop {
        // WebKit may refuse the rectangle of an element it is still laying out: ask again.
        let now = element.rectangle().await.ok();
        if now.is_some() && now == last {
            let animated = client
                .execute(ANIMATED, vec![serde_json::to_value(element)?])
                .await;
            if matches!(animated, Ok(serde_json::Value::Bool(false))) {
                return Ok(());
            }
        }
        if start.elapsed() > PATIENCE {
            return Err(format!("{what} never stood still").into());
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the window showed when a test gave up: a PNG and the page's HTML under target/e2e-failures/.
async fn save_failure(client: &Client) {
    let folder = workspace_root().join("target/e2e-failures");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let base = folder.join(format!("{stamp}"));
    let probe = client
        .execute(
            "return JSON.stringify({url: location.href, focus: document.hasFocus(), visible: document.visibilityState, \
             modals: document.querySelectorAll('.ant-modal').length, spinning: document.querySelectorAll('.ant-spin-spinning').length, \
             active: document.activeElement && document.activeElement.outerHTML.slice(0, 300), loaded: performance.now()})",
            vec![],
        )
        .await;
    eprintln!("the failed test's page: {probe:?}");
    let (Ok(png), Ok(html)) = (client.screenshot().await, client.source().await) else {
        return;
    };
    if std::fs::create_dir_all(&folder).is_ok()
        && std::fs::write(base.with_extension("png"), png).is_ok()
        && std::fs::write(base.with_extension("html"), html).is_ok()
    {
        eprintln!("the failed test's window: {}.png", base.display());
    }
}

impl Drop for DesktopApp {
    /// Ends the session and stops the driver, also when a test failed half-way. Killing the driver
    /// alone would leave the app running, and the next test's app would then hand over to it as
    /// the single instance and never answer.
    fn drop(&mut self) {
        if self.session_open {
            let log =
                std::fs::read_to_string(self.data_dir.path().join("app.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "the failed test's app said, last lines first:\n{}",
                tail.join("\n")
            );
        }
        if self.session_open
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
            && runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            let client = self.client.clone();
            tokio::task::block_in_place(|| {
                runtime.block_on(async {
                    let _ = tokio::time::timeout(PATIENCE, save_failure(&client)).await;
                    let _ = tokio::time::timeout(PATIENCE, client.close()).await;
                })
            });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        self.bus.stop();
    }
}

fn is_side_call(entry: &tokendesk_ledger::Entry) -> bool {
    entry
        .usage
        .as_ref()
        .is_some_and(|usage| usage.side_call.is_some())
}
