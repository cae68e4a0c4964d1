//! The desktop app as its Debian package installs it: scripts/test-packages.sh installs the package and
//! scripts/test.sh names the installed binary in `TOKENDESK_INSTALLED_DESKTOP`.

use fantoccini::Locator;
use tokendesk_e2e::{DesktopApp, Outcome, Setup};

#[tokio::test(flavor = "multi_thread")]
async fn the_installed_app_starts_in_demo_mode_and_shows_the_dashboard() -> Outcome {
    let Some(binary) = std::env::var_os("TOKENDESK_INSTALLED_DESKTOP") else {
        eprintln!(
            "skipped: TOKENDESK_INSTALLED_DESKTOP is unset (scripts/test.sh sets it once the package is installed)"
        );
        return Ok(());
    };
    let app = DesktopApp::launch(Setup {
        first_run: true,
        binary: binary.into(),
        ..Setup::default()
    })
    .await?;
    app.switch_to("tauri://localhost", "[data-testid=welcome]")
        .await?;
    app.click("choose-demo").await?;
    app.to_dashboard().await?;
    let balance = app.text_shown("balance").await?;
    let mode = app
        .client
        .find(Locator::Css("[data-testid=mode]"))
        .await?
        .attr("data-mode")
        .await?;
    assert_eq!(mode.as_deref(), Some("demo"), "balance {balance:?}");
    app.finish().await
}
