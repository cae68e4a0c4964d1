//! The OS language, read from the OS locale by Rust and handed to the UI. The webview's own
//! `navigator.language` does not follow the locale on WebKitGTK, so the UI cannot ask it.

/// The OS locale as a BCP 47 tag, e.g. `zh-CN`; `None` when the OS names none.
pub fn os_locale() -> Option<String> {
    sys_locale::get_locale()
}

/// Any Chinese locale gets Simplified Chinese; everything else gets English (as the UI decides).
pub fn speaks_chinese() -> bool {
    os_locale().is_some_and(|locale| locale.to_lowercase().starts_with("zh"))
}

/// Run in TokenDesk's own windows before the UI loads: the UI reads the OS locale from here.
pub fn init_script() -> String {
    let locale = serde_json::to_string(&os_locale()).unwrap_or_else(|_| "null".into());
    format!("window.__TOKENDESK_OS_LOCALE__ = {locale};")
}

/// Picks the text for the OS language.
pub fn pick<'a>(chinese: &'a str, english: &'a str) -> &'a str {
    if speaks_chinese() { chinese } else { english }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_script_is_one_assignment_of_a_json_value() {
        let script = init_script();
        let value = script
            .strip_prefix("window.__TOKENDESK_OS_LOCALE__ = ")
            .and_then(|rest| rest.strip_suffix(';'))
            .expect(&script);
        let parsed: Option<String> = serde_json::from_str(value).expect(value);
        assert_eq!(parsed, os_locale());
    }
}
