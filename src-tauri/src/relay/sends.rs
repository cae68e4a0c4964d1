//! Sends the gate let through, each bound to the page it was let through from. The reply's reports name
//! their send, and are billed to that page's app whatever the page's URL is when the reply ends: a
//! `history.pushState` to another app's path between the send and its report cannot move the bill. A send
//! never reported (the page removed the relay's hooks, navigated away mid-reply, or crashed) is handed out
//! once as overdue, to be charged as an estimate from its query.

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
    query: String,
    at: Instant,
    /// A report named it, or the relay said Dify never answered with a reply.
    settled: bool,
}

/// A send no report named in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub send_id: String,
    pub page_url: String,
    pub query: String,
}

/// The longest id a relay may name its send by.
const MOST_KEY_CHARS: usize = 64;

impl SendBindings {
    /// Binds a new send to `page_url`, with its query, and names it: by `key`, the relay's own id for the
    /// send, when it gives one (a send its page left unbound is bound again by the next page's relay,
    /// and a key bound already stays the one send it was), else by a new id.
    pub fn bind(&self, page_url: String, query: String, key: Option<String>) -> String {
        let key = key.filter(|key| {
            (1..=MOST_KEY_CHARS).contains(&key.len())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        let now = Instant::now();
        let mut sends = self.lock();
        if let Some(key) = key.as_ref().filter(|key| sends.contains_key(*key)) {
            return key.clone();
        }
        let id = key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        sends.retain(|_, bound| now.duration_since(bound.at) < KEPT_FOR);
        if sends.len() >= MOST_KEPT
            && let Some(oldest) = sends
                .iter()
                .min_by_key(|(_, bound)| bound.at)
                .map(|(id, _)| id.clone())
        {
            sends.remove(&oldest);
        }
        sends.insert(
            id.clone(),
            Bound {
                page_url,
                query,
                at: now,
                settled: false,
            },
        );
        id
    }

    /// The page a send was let through from, for each of its reply's reports (a reply may report twice:
    /// a repeated `message_end` is Rust's to answer as a duplicate, of the same app).
    pub fn page_of(&self, send_id: &str) -> Option<String> {
        let mut sends = self.lock();
        let bound = sends.get_mut(send_id)?;
        bound.settled = true;
        Some(bound.page_url.clone())
    }

    /// Dify answered the send with no reply (an error, or no answer at all): nothing to charge.
    pub fn failed(&self, send_id: &str) {
        if let Some(bound) = self.lock().get_mut(send_id) {
            bound.settled = true;
        }
    }

    /// The sends let through more than `after` ago that nothing has named since, each handed out once.
    pub fn overdue(&self, after: Duration) -> Vec<Overdue> {
        let now = Instant::now();
        let mut sends = self.lock();
        sends
            .iter_mut()
            .filter(|(_, bound)| !bound.settled && now.duration_since(bound.at) >= after)
            .map(|(id, bound)| {
                bound.settled = true;
                Overdue {
                    send_id: id.clone(),
                    page_url: bound.page_url.clone(),
                    query: bound.query.clone(),
                }
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bound>> {
        self.sends
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::{Overdue, SendBindings};
    use std::time::Duration;

    const EXPENSIVE: &str = "https://dify.example.com/chat/expensive";

    #[test]
    fn a_send_keeps_the_page_it_was_let_through_from() {
        let sends = SendBindings::default();
        let first = sends.bind(EXPENSIVE.into(), "hi".into(), None);
        let second = sends.bind(
            "https://dify.example.com/chat/cheap".into(),
            "yo".into(),
            None,
        );
        assert_ne!(first, second);
        for _ in 0..2 {
            assert_eq!(sends.page_of(&first).as_deref(), Some(EXPENSIVE));
        }
        assert_eq!(sends.page_of("made-up").as_deref(), None);
    }

    #[test]
    fn a_send_nothing_named_is_overdue_once() {
        let sends = SendBindings::default();
        let reported = sends.bind(EXPENSIVE.into(), "reported".into(), None);
        let failed = sends.bind(EXPENSIVE.into(), "failed".into(), None);
        let silent = sends.bind(EXPENSIVE.into(), "silent".into(), None);
        assert!(sends.overdue(Duration::from_secs(60)).is_empty(), "not yet");
        sends.page_of(&reported);
        sends.failed(&failed);
        assert_eq!(
            sends.overdue(Duration::ZERO),
            [Overdue {
                send_id: silent,
                page_url: EXPENSIVE.into(),
                query: "silent".into(),
            }]
        );
        assert!(sends.overdue(Duration::ZERO).is_empty(), "handed out once");
    }

    #[test]
    fn a_send_named_by_the_relays_key_is_bound_once() {
        let sends = SendBindings::default();
        let key = "5b0e8a0c-2f7e-4f5a-9a51-0c1d2e3f4a5b".to_string();
        let first = sends.bind(EXPENSIVE.into(), "hi".into(), Some(key.clone()));
        assert_eq!(first, key);
        let again = sends.bind(
            "https://dify.example.com/chat/cheap".into(),
            "hi".into(),
            Some(key),
        );
        assert_eq!(again, first);
        assert_eq!(sends.page_of(&first).as_deref(), Some(EXPENSIVE));
        assert_eq!(sends.overdue(Duration::ZERO), []);
        // A key that is no id is not taken.
        let odd = sends.bind(EXPENSIVE.into(), "hi".into(), Some("a b".into()));
        assert_ne!(odd, "a b");
    }

    #[test]
    fn the_oldest_binding_gives_way_past_the_limit() {
        let sends = SendBindings::default();
        let first = sends.bind(
            "https://dify.example.com/chat/a".into(),
            String::new(),
            None,
        );
        for _ in 1..super::MOST_KEPT {
            sends.bind(
                "https://dify.example.com/chat/b".into(),
                String::new(),
                None,
            );
        }
        assert!(sends.page_of(&first).is_some());
        sends.bind(
            "https://dify.example.com/chat/c".into(),
            String::new(),
            None,
        );
        assert!(sends.page_of(&first).is_none());
    }
}
