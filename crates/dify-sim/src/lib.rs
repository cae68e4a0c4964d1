//! A Dify-compatible server for development, TokenDesk's demo mode and
//! end-to-end tests.
//!
//! It serves share pages (`/chat/{token}`, `/chatbot/{token}`,
//! `/completion/{token}`, `/workflow/{token}`) whose script streams exactly as
//! Dify's web client does, and the `/api/...` endpoints they call (the message
//! list `/api/messages` among them, with each message's stored usage), with knobs
//! ([`SimConfig`]) for every quirk of Dify's stream that TokenDesk must absorb.
//! Out-of-process tests steer it through `GET /_sim/stats`,
//! `GET|POST /_sim/config` and `POST /_sim/reset`.

mod config;
mod console;
mod frames;
mod json;
mod pages;
mod records;
mod server;
mod transport;
mod usage;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{AppKind, Chunking, ConfigError, JsonStyle, SimConfig};
pub use console::{ConsoleAccount, LOGIN_MAX_ERROR_LIMITS};
pub use pages::STRICT_CSP;
pub use server::ENDPOINTS;

/// A running simulator. Dropping it stops the server too, without waiting.
pub struct DifySim {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl DifySim {
    /// Binds `bind` (port 0 picks a free port) and serves in the background.
    pub async fn start(bind: SocketAddr, config: SimConfig) -> std::io::Result<DifySim> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(server::Shared::new(config));
        let app = server::router(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    // A dropped sender stops the server as well.
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                eprintln!("dify-sim: server failed: {e}");
            }
        });
        Ok(DifySim {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`; a wildcard bind is reached through loopback.
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The share page of an app, e.g. `{base}/chat/{token}`; `token` is used verbatim.
    pub fn share_url(&self, kind: AppKind, token: &str) -> String {
        format!("{}/{kind}/{token}", self.base_url())
    }

    /// Replaces every knob. Knobs that fail [`SimConfig::validate`] make
    /// streaming requests answer 500 `sim_config_invalid`.
    pub fn set_config(&self, config: SimConfig) {
        self.shared.set_config(config);
    }

    pub fn config(&self) -> SimConfig {
        self.shared.config()
    }

    /// Requests so far to one of [`ENDPOINTS`], failed ones included; 0 for other names.
    pub fn request_count(&self, endpoint: &str) -> u64 {
        self.shared.request_count(endpoint)
    }

    /// The end user's session id a conversation was started under (Dify's `from_end_user_session_id`): the
    /// `sys.user_id` the share URL carried, or a new id when it carried none; `None` for a conversation
    /// started without a passport or not (any more) known.
    pub fn conversation_user(&self, conversation_id: &str) -> Option<String> {
        self.shared
            .conversation_user(conversation_id)
            .map(|user| user.session_id)
    }

    /// Sets the console's account, time zone and admin API key (see [`ConsoleAccount`]); signs everyone out.
    pub fn set_console(&self, account: ConsoleAccount) {
        *server::lock(&self.shared.console) = console::Console::new(account);
    }

    /// Ends the console's access tokens, as their expiry does: the next call needs a refresh.
    pub fn expire_console_access(&self) {
        server::lock(&self.shared.console).expire_access();
    }

    pub fn reset_counts(&self) {
        self.shared.reset_counts();
    }

    /// Stops accepting connections and waits for open streams to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for DifySim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
