//! Rendering: the theme (tera templates and static files), statements' Markdown made
//! safe, the page model templates see, and the output folder pages are written to.

pub mod markdown;
pub mod model;
pub mod names;
pub mod output;
pub mod theme;

use serde::Serialize;

use crate::config::Project;
use crate::site::{BuildOptions, SiteError};

/// What every template sees as `site`.
#[derive(Debug, Clone, Serialize)]
pub struct SiteContext {
    pub title: String,
    /// Absolute base URL with a trailing slash, or empty; only for feed, sitemap and
    /// canonical links.
    pub base_url: String,
    /// The Content-Security-Policy of every page: the site's own files only (404.html
    /// too: it links its stylesheet from the base_url's path, as it does its links).
    pub csp: String,
}

/// What pages may load: their own site's scripts, styles and images (and `data:` images,
/// which the theme's SVG may use), nothing else; no plugins, forms or `<base>` rewrites.
/// `serve` sends the same policy as a header.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; script-src 'self'; \
style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

impl SiteContext {
    pub(crate) fn new(project: &Project, opts: &BuildOptions) -> SiteContext {
        let base = opts
            .base_url
            .clone()
            .unwrap_or_else(|| project.config.site.base_url.clone());
        let base_url = match base.trim() {
            "" => String::new(),
            b if b.ends_with('/') => b.to_string(),
            b => format!("{b}/"),
        };
        SiteContext {
            title: project.config.site.title.clone(),
            base_url,
            csp: CSP.to_string(),
        }
    }
}

/// Renders one page: `path` is root-relative; the template also sees `site`, `root` (the
/// way back up, so links stay relative) and `page_url`.
pub(crate) fn render_page(
    theme: &theme::Theme,
    site: &SiteContext,
    path: &str,
    template: &str,
    mut ctx: tera::Context,
) -> Result<Vec<u8>, SiteError> {
    let depth = path.matches('/').count();
    ctx.insert("site", site);
    // 404.html is served at whatever depth the missing URL had, so relative links
    // cannot work there; it links from the site's path on its host, which also works on
    // a preview or a mirror (unlike base_url's host).
    let root = if template == "404.html" {
        crate::config::base_path(&site.base_url)
    } else {
        "../".repeat(depth)
    };
    ctx.insert("root", &root);
    ctx.insert("page_url", &path.trim_end_matches("index.html"));
    let html = theme.render(template, &ctx)?;
    // Escaping keeps markup out but not NUL and other control characters from run
    // files; they must not reach a page (they are HTML parse errors).
    Ok(markdown::scrub_controls(&html).into_owned().into_bytes())
}
