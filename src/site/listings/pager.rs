//! Page numbering for the paginated listings (index, Artist and prompt pages): pages are
//! numbered from the oldest group, so a new group changes only the newest page (and the
//! one before it when the newest fills up).

use serde::Serialize;

/// Where a page of a paginated listing sits among its neighbours. URLs are root-relative.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pager {
    /// 1 for the oldest page.
    pub number: usize,
    /// The page of newer groups, if any.
    pub newer: Option<String>,
    /// The page of older groups, if any.
    pub older: Option<String>,
    pub newest: String,
    pub oldest: String,
    /// The page lists its groups oldest first (the "Oldest first" order of the index).
    pub ascending: bool,
}

/// One page of a listing: its path, its items (indices into the oldest-first list) and
/// its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub path: String,
    pub items: std::ops::Range<usize>,
    pub pager: Pager,
}

/// Splits `n` items (oldest first) into pages of `per_page`, numbered from the oldest;
/// the newest page lives at `newest_path`, page `k` of the older ones at `older_path(k)`.
pub fn paginate(
    n: usize,
    per_page: usize,
    newest_path: &str,
    older_path: impl Fn(usize) -> String,
) -> Vec<Slot> {
    let per_page = per_page.max(1);
    let pages = n.div_ceil(per_page).max(1);
    let path = |k: usize| {
        if k == pages {
            newest_path.to_string()
        } else {
            older_path(k)
        }
    };
    (1..=pages)
        .map(|k| Slot {
            path: path(k),
            items: ((k - 1) * per_page).min(n)..(k * per_page).min(n),
            pager: Pager {
                number: k,
                newer: (k < pages).then(|| path(k + 1)),
                older: (k > 1).then(|| path(k - 1)),
                newest: path(pages),
                oldest: path(1),
                ascending: false,
            },
        })
        .collect()
}

/// What an older page shows: its place and its groups' digests. Newest pages get no key
/// (they are always rendered).
pub(super) fn page_key(
    kind: &str,
    slot: &Slot,
    items: &[&crate::site::group::summary::GroupSummary],
    extra: &str,
) -> String {
    if slot.pager.newer.is_none() {
        return String::new();
    }
    let mut text = format!("{kind}|{extra}|{:?}", slot.pager);
    for g in items {
        text.push('|');
        text.push_str(&g.digest);
    }
    crate::store::sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_numbered_from_the_oldest_and_the_newest_is_the_index() {
        let older = |k: usize| format!("page/{k}.html");
        let slots = paginate(5, 2, "index.html", older);
        let paths: Vec<&str> = slots.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["page/1.html", "page/2.html", "index.html"]);
        assert_eq!(slots[0].items, 0..2);
        assert_eq!(slots[2].items, 4..5);
        assert_eq!(slots[1].pager.newer.as_deref(), Some("index.html"));
        assert_eq!(slots[1].pager.older.as_deref(), Some("page/1.html"));
        assert_eq!(slots[2].pager.older.as_deref(), Some("page/2.html"));
        assert_eq!(slots[0].pager.older, None);
        // One more group leaves the older pages as they were.
        let grown = paginate(6, 2, "index.html", older);
        assert_eq!(grown[..2], slots[..2]);
        // An empty history still has its newest page.
        assert_eq!(paginate(0, 24, "index.html", older).len(), 1);
    }
}
