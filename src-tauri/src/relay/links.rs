//! Links the chat window refuses (they leave the Dify apps) open in the system browser only after a
//! user's own click on them. The navigation handler sees only the URL, so the relay reports each click
//! the user made (a trusted event, which no page script can make) on a link, and a refused navigation
//! opens in the system only when such a click named it a moment before or after.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::Url;

/// How far apart a click and the navigation it started may be seen.
const PAIRED_WITHIN: Duration = Duration::from_secs(2);

/// What was seen last of each side, by [`Side`].
type Seen = [Option<(Url, Instant)>; 2];

#[derive(Default)]
pub struct UserLinks {
    seen: Mutex<Seen>,
}

#[derive(Clone, Copy)]
enum Side {
    Click = 0,
    Refusal = 1,
}

impl UserLinks {
    /// The chat window refused a navigation to `url`: whether a user's click asked for it (then it opens).
    pub fn refused(&self, url: &Url) -> bool {
        self.meet(url, Side::Refusal)
    }

    /// The user clicked a link to `url`: whether the window already refused it (then it opens).
    pub fn clicked(&self, url: &Url) -> bool {
        self.meet(url, Side::Click)
    }

    /// True when the other side saw `url` within [`PAIRED_WITHIN`] (and that is used up); else this side
    /// keeps it for the other.
    fn meet(&self, url: &Url, side: Side) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let other = &mut seen[1 - side as usize];
        if other
            .as_ref()
            .is_some_and(|(seen, at)| seen == url && at.elapsed() <= PAIRED_WITHIN)
        {
            *other = None;
            return true;
        }
        seen[side as usize] = Some((url.clone(), Instant::now()));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn a_refused_link_opens_once_a_click_names_it_in_either_order() {
        let links = UserLinks::default();
        assert!(!links.refused(&url("https://docs.example.com/a")));
        assert!(links.clicked(&url("https://docs.example.com/a")));
        // Used up: the same link needs a click of its own again.
        assert!(!links.refused(&url("https://docs.example.com/a")));

        assert!(!links.clicked(&url("https://docs.example.com/b")));
        assert!(links.refused(&url("https://docs.example.com/b")));
    }

    #[test]
    fn a_click_on_one_link_opens_no_other() {
        let links = UserLinks::default();
        assert!(!links.clicked(&url("https://docs.example.com/clicked")));
        assert!(!links.refused(&url("https://ads.example.com/popup")));
    }
}
