//! Turns frames into timed HTTP body chunks: pings, delays and chunk splitting.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::{StreamExt, stream};

use crate::config::{Chunking, SimConfig};

pub(crate) const PING: &str = "event: ping\n\n";

/// Each body chunk with the pause before it.
pub(crate) fn chunks(frames: &[String], config: &SimConfig) -> Vec<(Duration, Bytes)> {
    let mut texts: Vec<(Duration, String)> = Vec::with_capacity(frames.len() * 2);
    for (i, frame) in frames.iter().enumerate() {
        let delay = if i == 0 {
            config.first_byte_delay_ms
        } else {
            config.frame_delay_ms
        };
        texts.push((Duration::from_millis(delay), format!("data: {frame}\n\n")));
        let sent = i + 1;
        if let Some(every) = config.ping_every
            && every > 0
            && sent % every == 0
            && sent < frames.len()
        {
            texts.push((Duration::ZERO, PING.to_owned()));
        }
    }
    match config.chunking {
        Chunking::Frames => texts
            .into_iter()
            .map(|(delay, text)| (delay, Bytes::from(text)))
            .collect(),
        Chunking::SplitEvery(size) => split(texts, size.max(1)),
    }
}

/// Cuts the concatenated stream at every `size` bytes. A chunk goes out as
/// soon as the frame that completes it is due; the tail waits for the next.
fn split(texts: Vec<(Duration, String)>, size: usize) -> Vec<(Duration, Bytes)> {
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for (delay, text) in texts {
        pending.extend_from_slice(text.as_bytes());
        let mut wait = delay;
        while pending.len() >= size {
            let rest = pending.split_off(size);
            out.push((wait, Bytes::from(std::mem::replace(&mut pending, rest))));
            wait = Duration::ZERO;
        }
    }
    if !pending.is_empty() {
        out.push((Duration::ZERO, Bytes::from(pending)));
    }
    out
}

/// A streaming body that sleeps before each chunk.
pub(crate) fn body(chunks: Vec<(Duration, Bytes)>) -> Body {
    Body::from_stream(stream::iter(chunks).then(|(delay, bytes)| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<_, Infallible>(bytes)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Vec<String> {
        ["{\"a\":\"你好\"}", "{\"b\":2}", "{\"c\":3}"]
            .map(String::from)
            .to_vec()
    }

    fn concat(chunks: &[(Duration, Bytes)]) -> Vec<u8> {
        chunks.iter().flat_map(|(_, b)| b.iter().copied()).collect()
    }

    #[test]
    fn whole_frames_with_pings_between() {
        let config = SimConfig {
            ping_every: Some(1),
            first_byte_delay_ms: 5,
            frame_delay_ms: 7,
            ..SimConfig::default()
        };
        let chunks = chunks(&frames(), &config);
        let texts: Vec<&[u8]> = chunks.iter().map(|(_, b)| b.as_ref()).collect();
        assert_eq!(
            texts,
            [
                "data: {\"a\":\"你好\"}\n\n".as_bytes(),
                PING.as_bytes(),
                b"data: {\"b\":2}\n\n",
                PING.as_bytes(),
                b"data: {\"c\":3}\n\n",
            ]
        );
        let delays: Vec<u64> = chunks.iter().map(|(d, _)| d.as_millis() as u64).collect();
        assert_eq!(delays, [5, 0, 7, 0, 7]);
    }

    #[test]
    fn split_keeps_bytes_and_cuts_inside_characters() {
        let whole = chunks(&frames(), &SimConfig::default());
        let config = SimConfig {
            chunking: Chunking::SplitEvery(4),
            ..SimConfig::default()
        };
        let split = chunks(&frames(), &config);
        assert_eq!(concat(&split), concat(&whole));
        let (last, full) = split.split_last().unwrap();
        assert!(full.iter().all(|(_, b)| b.len() == 4));
        assert!(!last.1.is_empty() && last.1.len() <= 4);
        assert!(split.iter().any(|(_, b)| std::str::from_utf8(b).is_err()));
    }
}
