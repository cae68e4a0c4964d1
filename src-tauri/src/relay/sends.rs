//! Sends the gate let through, each bound to the page it was let through from. The reply's reports name
//! their send, and are billed to that page's app whatever the page's URL is when the reply ends: a
//! `history.pushState` to another app's path between the send and its report cannot move the bill.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a send's binding is kept: far longer than any reply streams.
const KEPT_FOR: Duration = Duration::from_secs(3600);
/// The most bindings kept, so a page that sends and never reports cannot grow the map without end.
const MOST_KEPT: usize = 10_000;

#[derive(Default)]
pub struct SendBindings {
    sends: Mutex<HashMap<String, Bound>>,
}

struct Bound {
    page_url: String,
    at: Instant,
}

impl SendBindings {
    /// Binds a new send to `page_url` and names it.
    pub fn bind(&self, page_url: String) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let now = Instant::now();
        let mut sends = self.lock();
        sends.retain(|_, bound| now.duration_since(bound.at) < KEPT_FOR);
        if sends.len() >= MOST_KEPT
            && let Some(oldest) = sends
                .iter()
                .min_by_key(|(_, bound)| bound.at)
                .map(|(id, _)| id.clone())
        {
            sends.remove(&oldest);
        }
        sends.insert(id.clone(), Bound { page_url, at: now });
        id
    }

    /// The page a send was let through from, for each of its reply's reports (a reply may report twice:
    /// a repeated `message_end` is Rust's to answer as a duplicate, of the same app).
    pub fn page_of(&self, send_id: &str) -> Option<String> {
        self.lock().get(send_id).map(|bound| bound.page_url.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bound>> {
        self.sends
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::SendBindings;

    #[test]
    fn a_send_keeps_the_page_it_was_let_through_from() {
        let sends = SendBindings::default();
        let first = sends.bind("https://dify.example.com/chat/expensive".into());
        let second = sends.bind("https://dify.example.com/chat/cheap".into());
        assert_ne!(first, second);
        for _ in 0..2 {
            assert_eq!(
                sends.page_of(&first).as_deref(),
                Some("https://dify.example.com/chat/expensive")
            );
        }
        assert_eq!(sends.page_of("made-up").as_deref(), None);
    }

    #[test]
    fn the_oldest_binding_gives_way_past_the_limit() {
        let sends = SendBindings::default();
        let first = sends.bind("https://dify.example.com/chat/a".into());
        for _ in 1..super::MOST_KEPT {
            sends.bind("https://dify.example.com/chat/b".into());
        }
        assert!(sends.page_of(&first).is_some());
        sends.bind("https://dify.example.com/chat/c".into());
        assert!(sends.page_of(&first).is_none());
    }
}
