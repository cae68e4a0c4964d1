//! `dify-sim --port N [--host 127.0.0.1] [--config knobs.json] [--token demo]`:
//! serves until killed; prints the base URL, then the chat page URL.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use dify_sim::{AppKind, DifySim, SimConfig};

#[derive(Debug, Parser)]
#[command(
    name = "dify-sim",
    version,
    about = "A Dify-compatible server for development and tests"
)]
struct Args {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// A JSON file of knobs (a SimConfig); missing knobs keep their defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The app token in the printed chat URL.
    #[arg(long, default_value = "demo")]
    token: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = match &args.config {
        None => SimConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let config: SimConfig = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid config", path.display()))?;
            config
                .validate()
                .with_context(|| format!("{}", path.display()))?;
            config
        }
    };
    let sim = DifySim::start(SocketAddr::new(args.host, args.port), config)
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    println!("{}", sim.base_url());
    println!("{}", sim.share_url(AppKind::Chat, &args.token));
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    sim.shutdown().await;
    Ok(())
}
