//! The listings, made from group summaries alone (never by reading a group's runs
//! again): the index, each Artist's and each prompt version's pages (`pages`, numbered
//! by `pager`), the leaderboards, the Artists' profiles and voice readings, and the
//! machine-readable exports.

pub mod artists;
pub mod exports;
mod jobs;
pub mod leaderboard;
pub mod pager;
pub mod pages;
pub mod profiles;
pub mod voice;
