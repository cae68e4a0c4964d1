//! A managed install: what the computer's administrator decides for every user of it, in
//! `/etc/tokendesk/desktop.toml`, read once at launch. A rollout uses it to point every desktop at the
//! org's server and to offer only the ways in the org allows.

use serde::Deserialize;
use std::path::Path;
use tokendesk_ledger::sync::Mode;

/// Where a managed install's settings live.
pub const SYSTEM_CONFIG: &str = "/etc/tokendesk/desktop.toml";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManagedInstall {
    /// The org server the join form offers.
    pub server_url: Option<String>,
    /// Whether the first run offers "Use on this computer only".
    pub offer_island: bool,
    /// Whether the first run offers the demo.
    pub offer_demo: bool,
}

/// An unmanaged install offers every way in.
impl Default for ManagedInstall {
    fn default() -> Self {
        Self {
            server_url: None,
            offer_island: true,
            offer_demo: true,
        }
    }
}

impl ManagedInstall {
    /// The settings in `path`; without the file, the defaults. A file that cannot be read or says
    /// something unknown is an error: a misspelt `offer_island = false` must not offer the island.
    pub fn read(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(format!("cannot read {}: {error}", path.display())),
        }
    }

    /// Whether the first run may choose `mode` (joining an org is always offered).
    pub fn offers(&self, mode: Mode) -> bool {
        match mode {
            Mode::Island => self.offer_island,
            Mode::Demo => self.offer_demo,
            Mode::Unchosen | Mode::Org => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ManagedInstall, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desktop.toml");
        std::fs::write(&path, text).unwrap();
        ManagedInstall::read(&path)
    }

    #[test]
    fn without_the_file_every_way_in_is_offered_and_no_server_suggested() {
        let dir = tempfile::tempdir().unwrap();
        let managed = ManagedInstall::read(&dir.path().join("desktop.toml")).unwrap();
        assert_eq!(managed, ManagedInstall::default());
        assert!(managed.offers(Mode::Island) && managed.offers(Mode::Demo));
        assert_eq!(managed.server_url, None);
    }

    #[test]
    fn an_administrator_points_the_join_form_at_the_org_and_withholds_the_island_and_the_demo() {
        let managed = read(
            "server_url = \"https://td.example.com\"\noffer_island = false\noffer_demo = false\n",
        )
        .unwrap();
        assert_eq!(
            managed.server_url.as_deref(),
            Some("https://td.example.com")
        );
        assert!(!managed.offers(Mode::Island));
        assert!(!managed.offers(Mode::Demo));
        assert!(managed.offers(Mode::Org));
    }

    #[test]
    fn settings_left_out_keep_their_defaults() {
        let managed = read("offer_demo = false\n").unwrap();
        assert!(managed.offers(Mode::Island));
        assert!(!managed.offers(Mode::Demo));
    }

    #[test]
    fn a_misspelt_or_mistyped_setting_is_refused_naming_the_file() {
        let misspelt = read("offer_islnd = false\n").unwrap_err();
        assert!(
            misspelt.contains("desktop.toml") && misspelt.contains("offer_islnd"),
            "{misspelt}"
        );
        let mistyped = read("offer_demo = \"no\"\n").unwrap_err();
        assert!(mistyped.contains("offer_demo"), "{mistyped}");
    }

    #[test]
    fn the_packaged_example_documents_real_settings_and_changes_nothing() {
        let example = include_str!("../../packaging/desktop/desktop.toml");
        assert_eq!(read(example).unwrap(), ManagedInstall::default());
        for setting in ["server_url", "offer_island", "offer_demo"] {
            assert!(
                example.contains(setting),
                "the example leaves out {setting}"
            );
        }
    }
}
