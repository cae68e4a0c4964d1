//! Frame JSON in the two styles Dify has used.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

use crate::config::JsonStyle;

pub(crate) fn to_json<T: Serialize>(value: &T, style: JsonStyle) -> serde_json::Result<String> {
    match style {
        JsonStyle::Compact => serde_json::to_string(value),
        JsonStyle::Legacy => {
            let mut out = Vec::new();
            value.serialize(&mut serde_json::Serializer::with_formatter(
                &mut out,
                PythonFormatter,
            ))?;
            // The formatter writes only ASCII, so this cannot fail; map it anyway.
            String::from_utf8(out).map_err(|e| serde_json::Error::io(io::Error::other(e)))
        }
    }
}

/// Python's `json.dumps` defaults: `", "` / `": "` separators and
/// `ensure_ascii`, which escapes everything outside `' '..='~'` as `\uXXXX`
/// (UTF-16 surrogate pairs above the BMP, lowercase hex).
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        separator(w, first)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        separator(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

fn separator<W: ?Sized + io::Write>(w: &mut W, first: bool) -> io::Result<()> {
    if first { Ok(()) } else { w.write_all(b", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn legacy_matches_python_json_dumps() {
        let value = json!({"a": [1, "你好😀\u{7f}\n\"x\""], "b": null, "c": {}, "d": 1.38});
        assert_eq!(
            to_json(&value, JsonStyle::Legacy).unwrap(),
            r#"{"a": [1, "\u4f60\u597d\ud83d\ude00\u007f\n\"x\""], "b": null, "c": {}, "d": 1.38}"#
        );
    }

    #[test]
    fn compact_keeps_utf8_and_no_spaces() {
        let value = json!({"a": [1, "你好"], "b": null});
        assert_eq!(
            to_json(&value, JsonStyle::Compact).unwrap(),
            r#"{"a":[1,"你好"],"b":null}"#
        );
    }
}
