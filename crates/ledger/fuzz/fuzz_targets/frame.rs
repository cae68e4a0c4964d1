//! The relay's `message_end` frame parser on arbitrary bytes: it answers a frame or a clear error, never a
//! panic, and a frame it accepts has a message id and token counts within the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokendesk_ledger::frame::parse_message_end;

const MAX_TOKENS: u64 = 2_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = parse_message_end(payload, MAX_TOKENS) {
        assert!(!frame.message_id.is_empty());
        assert!(frame.usage.prompt_tokens + frame.usage.completion_tokens <= 2 * MAX_TOKENS);
    }
});
