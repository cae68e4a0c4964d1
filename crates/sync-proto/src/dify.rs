//! How a desktop names its staff member to Dify, so Dify's own records say who chatted: the share URL's
//! `sys.user_id`. Dify's web app reads it as `decodeBase64AndDecompress(decodeURIComponent(value))` and
//! asks its passport for an end user with that session id; the console lists each conversation's
//! `from_end_user_session_id`. Anyone can set it, so it is a hint for reconciliation, never proof.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::io::{Read, Write};

/// The share URL's query parameter Dify's web app takes the end user's id from.
pub const USER_ID_PARAM: &str = "sys.user_id";

/// `sys.user_id`'s value for `user_id` before URL encoding: its gzip, in standard base64.
pub fn encode_user_id(user_id: &str) -> String {
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let compressed = gzip
        .write_all(user_id.as_bytes())
        .and_then(|()| gzip.finish())
        .unwrap_or_default();
    STANDARD.encode(compressed)
}

/// The user id a `sys.user_id` value names, `None` if it is not base64 of gzipped UTF-8.
pub fn decode_user_id(value: &str) -> Option<String> {
    let compressed = STANDARD.decode(value).ok()?;
    let mut user_id = String::new();
    GzDecoder::new(compressed.as_slice())
        .read_to_string(&mut user_id)
        .ok()?;
    Some(user_id)
}

/// `share_url` with `sys.user_id` naming `user_id`, replacing any the URL had.
pub fn share_url_for_user(share_url: &url::Url, user_id: &str) -> url::Url {
    let mut url = share_url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| name != USER_ID_PARAM)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(USER_ID_PARAM, &encode_user_id(user_id));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_id_survives_the_trip_through_the_share_url() {
        let id = "0193a9f2-7c4e-7d61-b1a5-3f0e2d9c8b7a";
        let share =
            url::Url::parse("https://dify.example/chat/abc?sys.user_id=old&lang=zh").unwrap();
        let url = share_url_for_user(&share, id);
        let values: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(values.len(), 2, "{url}");
        assert_eq!(values[0], ("lang".into(), "zh".into()));
        // As Dify's web app reads it: the query decoded by URLSearchParams, then base64 and gunzip.
        assert_eq!(values[1].0, USER_ID_PARAM);
        assert_eq!(decode_user_id(&values[1].1).as_deref(), Some(id));
        assert_eq!(url.path(), "/chat/abc");
    }

    #[test]
    fn a_value_that_is_not_base64_of_gzip_names_nobody() {
        assert_eq!(decode_user_id("not base64!"), None);
        assert_eq!(decode_user_id(&STANDARD.encode("plain text")), None);
    }
}
