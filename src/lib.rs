//! chorus: run a chorus of LLM Artists on one prompt, paint every answer with one Brush,
//! keep every run as files under `runs/`, and publish the comparison as a static site.
//!
//! Stages, one module each: `config` (chorus.toml), `store` (the runs/ format),
//! `generate` (batches and providers), `site` (the build), `serve`
//! (preview server and watch mode). `cli` only wires them.

pub mod cli;
pub mod config;
pub mod fsutil;
pub mod generate;
pub mod serve;
pub mod site;
pub mod store;
