//! Demo mode: with no Dify app configured, a built-in Dify simulator serves a chat app on loopback,
//! registered as an app labelled demo, so a new user sees metering work at once.

use dify_sim::{AppKind, DifySim, SimConfig};
use std::net::{Ipv4Addr, SocketAddr};
use tokendesk_ledger::apps::{AppBinding, DifyApp};
use tokendesk_ledger::{Ledger, Result};

/// The demo's usual port, so its app keeps one URL across runs; another is taken when it is busy.
const DEMO_PORT: u16 = 8765;
const DEMO_TOKEN: &str = "demo";
const DEMO_NAME: &str = "演示 Demo";
const DEMO_MODEL: &str = "gpt-4o-mini";

pub fn start_simulator() -> std::io::Result<DifySim> {
    tauri::async_runtime::block_on(async {
        let preferred = SocketAddr::from((Ipv4Addr::LOCALHOST, DEMO_PORT));
        match DifySim::start(preferred, SimConfig::default()).await {
            Ok(sim) => Ok(sim),
            Err(_) => {
                DifySim::start(
                    SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    SimConfig::default(),
                )
                .await
            }
        }
    })
}

/// The demo app, at this simulator's URL. There is one, whatever port the simulator got: a busy 8765
/// moves it rather than registering another.
pub fn demo_app(ledger: &mut Ledger, sim: &DifySim) -> Result<DifyApp> {
    // Its replies spend demo credits of their own; a ledger from before that gets them now.
    ledger.demo_account()?;
    let url = sim.share_url(AppKind::Chat, DEMO_TOKEN);
    let binding = |app: Option<&DifyApp>| match app.and_then(|app| app.model.clone()) {
        Some(model) => AppBinding::Model(model),
        None if app.is_none() && ledger.model(DEMO_MODEL).is_ok() => {
            AppBinding::Model(DEMO_MODEL.into())
        }
        None => AppBinding::DifyPrice,
    };
    match ledger.apps()?.into_iter().find(|app| app.demo) {
        Some(app) if app.share_url == url => Ok(app),
        Some(app) => {
            let binding = binding(Some(&app));
            ledger.update_app(app.id, &app.name, &url, &binding)
        }
        None => {
            let binding = binding(None);
            ledger.add_app(DEMO_NAME, &url, &binding, true)
        }
    }
}
