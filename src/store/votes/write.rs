//! How import lays out the votes files it writes: one vote per line, so a file holds
//! about as many bytes as the compact download it came from and `git diff` shows one line
//! per vote; and as many files as it takes to keep each within the cap every reader
//! applies ([`MAX_VOTES_FILE_BYTES`]). A file the build would refuse is never written.

use super::{Vote, VOTES_FORMAT, VOTES_VERSION};

/// One file of votes: its bytes and which of the votes it holds.
pub struct Part {
    pub bytes: Vec<u8>,
    pub votes: std::ops::Range<usize>,
}

/// The files that hold `votes`, in order, each at most `cap` bytes. `votes` is not
/// empty and no single vote comes near the cap (the file it was read from was capped).
pub fn render_parts(votes: &[Vote], cap: usize) -> Vec<Part> {
    let head = format!(
        "{{\n  \"format\": \"{VOTES_FORMAT}\",\n  \"version\": {VOTES_VERSION},\n  \"votes\": [\n"
    );
    const TAIL: &str = "\n  ]\n}\n";
    let lines: Vec<String> = votes
        .iter()
        .map(|v| format!("    {}", serde_json::to_string(v).expect("votes serialise")))
        .collect();
    let mut parts = Vec::new();
    let mut part: Vec<&str> = Vec::new();
    let mut size = head.len() + TAIL.len();
    let mut start = 0;
    for (i, line) in lines.iter().enumerate() {
        // Each line but the last of a part is followed by ",\n".
        let grows = line.len() + if part.is_empty() { 0 } else { 2 };
        if !part.is_empty() && size + grows > cap {
            parts.push(Part {
                bytes: assemble(&head, &part, TAIL),
                votes: start..i,
            });
            start = i;
            part.clear();
            size = head.len() + TAIL.len();
            part.push(line);
            size += line.len();
            continue;
        }
        part.push(line);
        size += grows;
    }
    if !part.is_empty() {
        parts.push(Part {
            bytes: assemble(&head, &part, TAIL),
            votes: start..lines.len(),
        });
    }
    parts
}

fn assemble(head: &str, lines: &[&str], tail: &str) -> Vec<u8> {
    let mut out = String::with_capacity(head.len() + tail.len() + lines.len() * 260);
    out.push_str(head);
    out.push_str(&lines.join(",\n"));
    out.push_str(tail);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn votes(n: u32) -> Vec<Vote> {
        (0..n)
            .map(|i| Vote {
                id: uuid::Uuid::from_u128(u128::from(i)),
                group_id: uuid::Uuid::from_u128(7),
                winner: "a".repeat(20),
                losers: vec!["b".repeat(20), "c".repeat(20), "d".repeat(20)],
                voted_at: "2026-11-30T12:00:00.000Z".into(),
                voter: format!("voter {}", i % 7),
            })
            .collect()
    }

    #[test]
    fn parts_stay_within_the_cap_and_hold_every_vote_once_in_order() {
        let all = votes(1000);
        for cap in [10_000, 64 * 1024, 4 * 1024 * 1024] {
            let parts = render_parts(&all, cap);
            let mut read = Vec::new();
            for p in &parts {
                assert!(p.bytes.len() <= cap, "{} bytes over {cap}", p.bytes.len());
                let parsed = super::super::parse_votes(Path::new("part.json"), &p.bytes).unwrap();
                assert_eq!(parsed.file.votes, all[p.votes.clone()]);
                read.extend(parsed.file.votes);
            }
            assert_eq!(read, all, "cap {cap}: {} part(s)", parts.len());
        }
        assert_eq!(render_parts(&all, 4 * 1024 * 1024).len(), 1);
        assert!(render_parts(&all, 10_000).len() > 20);
        // One vote per line.
        let one = String::from_utf8(render_parts(&all[..3], 10_000).remove(0).bytes).unwrap();
        assert_eq!(one.lines().count(), 3 + 6, "{one}");
    }
}
