//! The share pages and their static files.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::config::{AppKind, SimConfig};

const PAGE: &str = include_str!("../assets/chat.html");
const SCRIPT: &str = include_str!("../assets/chat.js");
const STYLE: &str = include_str!("../assets/chat.css");

/// The policy `strict_csp` adds to share pages.
pub const STRICT_CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'";

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A share page such as `/chat/{token}`.
pub(crate) fn share_page(kind: AppKind, token: &str, config: &SimConfig) -> Response {
    let html = PAGE
        .replace("{{kind}}", kind.as_str())
        .replace(
            "{{suggested}}",
            if config.suggested_questions {
                "true"
            } else {
                "false"
            },
        )
        // Last, so a token cannot smuggle in another placeholder.
        .replace("{{token}}", &escape_html(token));
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response();
    if config.strict_csp {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(STRICT_CSP),
        );
    }
    response
}

pub(crate) fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub(crate) fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// A plain index linking the demo share pages, for manual play.
pub(crate) fn index() -> Response {
    let links: String = AppKind::ALL
        .iter()
        .map(|kind| format!("<li><a href=\"/{kind}/demo\">/{kind}/demo</a></li>"))
        .collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>dify-sim</title>\
         <link rel=\"stylesheet\" href=\"/static/chat.css\"></head>\
         <body><main id=\"messages\"><h1>dify-sim</h1><ul>{links}</ul></main></body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_escaped() {
        assert_eq!(
            escape_html("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
