//! Saves PNGs of every window of the real app, in zh-CN and in en, to target/screenshots/<lang>/.
//! Run by scripts/screenshots.sh (under Xvfb, with the app built with `--features custom-protocol`).

use fantoccini::Locator;
use std::path::{Path, PathBuf};
use tokendesk_e2e::{DesktopApp, Outcome, Setup, eventually};

const ADMIN_PASSWORD: &str = "screenshot password";

async fn save(app: &DesktopApp, folder: &Path, name: &str) -> Outcome {
    // Data first: no skeleton or spinner left on the page.
    eventually("the page to finish loading", || async {
        let loading = app
            .client
            .find_all(Locator::Css(".ant-skeleton, .ant-spin-spinning"))
            .await?;
        Ok(loading.is_empty().then_some(()))
    })
    .await?;
    let png = app.client.screenshot().await?;
    std::fs::write(folder.join(format!("{name}.png")), png)?;
    println!("saved {}", folder.join(format!("{name}.png")).display());
    Ok(())
}

async fn shoot(lang: &str, folder: PathBuf) -> Outcome {
    std::fs::create_dir_all(&folder)?;
    let setup = Setup {
        lang: Some(lang.into()),
        prepare: Box::new(|ledger, _| {
            // A few days of history so the charts and tables have something to show.
            let page = ledger
                .apps()?
                .into_iter()
                .next()
                .map(|app| app.share_url)
                .unwrap_or_default();
            for n in 0..12_u64 {
                let frame = serde_json::json!({"event": "message_end", "message_id": format!("seed-{n}"),
                    "conversation_id": "seed", "metadata": {"usage": {"prompt_tokens": 800 + n * 150,
                    "completion_tokens": 200 + n * 40, "total_price": "0.0004", "currency": "USD"}}});
                ledger.record_frame(&page, &frame.to_string())?;
            }
            Ok(())
        }),
        ..Setup::default()
    };
    let app = DesktopApp::launch(setup).await?;
    app.to_chat().await?;
    app.send(if lang.starts_with("zh") {
        "请用三句话介绍我们的差旅政策"
    } else {
        "Summarize our travel policy"
    })
    .await?;
    app.replies_done(1).await?;
    save(&app, &folder, "chat").await?;
    app.to_dashboard().await?;
    save(&app, &folder, "dashboard").await?;

    app.login_admin(ADMIN_PASSWORD).await?;
    app.switch_to("tauri://localhost", "[data-testid=admin-session]")
        .await?;
    save(&app, &folder, "admin").await?;
    let tabs = app
        .client
        .find_all(Locator::Css(".ant-tabs-tab, .ant-menu-item"))
        .await?;
    for (index, tab) in tabs.iter().enumerate() {
        app.click_element(tab, &format!("admin tab {index}"))
            .await?;
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        save(&app, &folder, &format!("admin-{index}")).await?;
    }

    app.open_window("diagnostics").await?;
    app.switch_to("tauri://localhost", "[data-testid^=sim-]")
        .await?;
    save(&app, &folder, "diagnostics").await?;
    app.finish().await
}

#[tokio::main]
async fn main() -> Outcome {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    for (lang, folder) in [("zh_CN.UTF-8", "zh-CN"), ("en_US.UTF-8", "en")] {
        shoot(lang, root.join(folder)).await?;
    }
    Ok(())
}
