//! The language TokenDesk speaks: the one the user picked by hand (kept in the data directory), else
//! the OS's, read from the OS locale. The webview's own `navigator.language` does not follow the
//! locale on WebKitGTK, so the windows are told it by the shell.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Simplified Chinese or English: any Chinese locale gets Chinese, everything else English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Zh,
    En,
}

impl Language {
    /// The language of a BCP 47 tag such as `zh-CN` or `en-US`.
    pub fn of_locale(tag: &str) -> Self {
        if tag.to_lowercase().starts_with("zh") {
            Self::Zh
        } else {
            Self::En
        }
    }

    /// The OS's language; English when the OS names no locale.
    pub fn of_os() -> Self {
        sys_locale::get_locale().map_or(Self::En, |tag| Self::of_locale(&tag))
    }

    /// Picks the text in this language.
    pub fn pick<T>(self, chinese: T, english: T) -> T {
        match self {
            Self::Zh => chinese,
            Self::En => english,
        }
    }

    /// Run in every window before its page: the UI and the relay read the language from here.
    pub fn init_script(self) -> String {
        let value = serde_json::to_string(&self).unwrap_or_else(|_| "\"en\"".into());
        format!("window.__TOKENDESK_LANGUAGE__ = {value};")
    }
}

/// The hand-picked language, kept as a small JSON file beside the ledger.
pub struct LanguageChoice {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    language: Language,
}

impl LanguageChoice {
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("language.json"),
        }
    }

    /// The language picked by hand earlier, else the OS's. A file that cannot be read is reported
    /// and ignored: the choice is a preference, and the OS's language is a fine answer.
    pub fn current(&self) -> Language {
        match std::fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice::<Stored>(&bytes) {
                Ok(stored) => stored.language,
                Err(error) => {
                    eprintln!(
                        "tokendesk-desktop: ignoring {}: {error}",
                        self.path.display()
                    );
                    Language::of_os()
                }
            },
            Err(_) => Language::of_os(),
        }
    }

    pub fn save(&self, language: Language) -> std::io::Result<()> {
        let text = serde_json::to_vec(&Stored { language }).map_err(std::io::Error::other)?;
        // Written aside and renamed, so a crash never leaves half a file.
        let partial = self.path.with_extension("json.partial");
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_chinese_locale_is_chinese_and_everything_else_english() {
        for tag in ["zh-CN", "zh-TW", "zh", "ZH-hk", "zh_CN.UTF-8"] {
            assert_eq!(Language::of_locale(tag), Language::Zh, "{tag}");
        }
        for tag in ["en-US", "fr-FR", "ja", "", "C"] {
            assert_eq!(Language::of_locale(tag), Language::En, "{tag}");
        }
    }

    #[test]
    fn the_init_script_is_one_assignment_of_a_json_string() {
        assert_eq!(
            Language::Zh.init_script(),
            r#"window.__TOKENDESK_LANGUAGE__ = "zh";"#
        );
        assert_eq!(
            Language::En.init_script(),
            r#"window.__TOKENDESK_LANGUAGE__ = "en";"#
        );
    }

    #[test]
    fn a_choice_is_kept_and_a_corrupt_file_falls_back_to_the_os() {
        let dir = tempfile::tempdir().unwrap();
        let choice = LanguageChoice::in_dir(dir.path());
        assert_eq!(choice.current(), Language::of_os());
        choice.save(Language::Zh).unwrap();
        assert_eq!(LanguageChoice::in_dir(dir.path()).current(), Language::Zh);
        choice.save(Language::En).unwrap();
        assert_eq!(choice.current(), Language::En);
        std::fs::write(
            dir.path().join("language.json"),
            b"{\"language\": \"klingon\"",
        )
        .unwrap();
        assert_eq!(choice.current(), Language::of_os());
    }
}
