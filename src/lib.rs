//! chorus: run a chorus of LLM Artists on one prompt, paint every answer with one Brush,
//! keep every run as files under `runs/`, and publish the comparison as a static site.
//!
//! Stages, one module each: `config` (chorus.toml), `store` (the runs/ format),
//! `generate` (batches and providers), `site` (the build), `serve`
//! (preview server and watch mode). `cli` only wires them; `untrusted` escapes what
//! they quote from runs/ and models.

pub mod cli;
pub mod config;
pub mod fsutil;
pub mod generate;
pub mod serve;
pub mod site;
pub mod store;
pub mod untrusted;

/// Thumbnailing allocates several megabytes per image. glibc's allocator hands such blocks
/// back to the kernel and page-faults them in again for the next image: 1.9 million faults
/// and 7 s of kernel time in a cold build of 1,000 images, against 40 thousand faults with
/// mimalloc. Declared in the library so that the binary, the tests and the benches all run
/// on the same allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
