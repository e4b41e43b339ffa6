//! The download stage: fetches a Brush's image (streamed, size-capped, with a timeout and
//! a content-type check), or takes the bytes it already sent, and proves they decode as
//! an image. The URL is never logged or returned in an error: it may be signed.

use std::time::Duration;

use super::providers::http::{chain, Caller};
use super::providers::{ImageSource, ProviderError};

/// A validated image and the extension of its decoded format.
#[derive(Debug)]
pub struct CheckedImage {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
}

/// Fetches (if needed) and validates the image.
pub async fn obtain(
    client: &reqwest::Client,
    source: &ImageSource,
    timeout: Duration,
    max_bytes: u64,
) -> Result<CheckedImage, ProviderError> {
    let bytes = match source {
        ImageSource::Bytes(bytes) => {
            check_size(bytes.len() as u64, max_bytes)?;
            bytes.clone()
        }
        ImageSource::Url(url) => download(client, url, timeout, max_bytes).await?,
    };
    tokio::task::spawn_blocking(move || {
        let extension = validate(&bytes)?;
        Ok(CheckedImage { bytes, extension })
    })
    .await
    .map_err(|e| ProviderError::Fatal {
        reason: format!("image check stopped: {e}"),
    })?
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    max_bytes: u64,
) -> Result<Vec<u8>, ProviderError> {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let caller = Caller::new(format!("image download from {host}"), None);
    let transport =
        |e: reqwest::Error| super::providers::http::transport_error(e, timeout, &caller);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(transport)?;
    let status = response.status().as_u16();
    match status {
        200..=299 => {}
        401 | 403 | 404 | 410 => {
            return Err(ProviderError::Fatal {
                reason: format!(
                    "the image URL answered HTTP {status}: it has expired or is not readable (Brush links last about an hour); run `chorus resume` to paint it again"
                ),
            })
        }
        408 | 425 | 429 | 500..=599 => {
            return Err(ProviderError::Retryable { reason: format!("image host answered HTTP {status}"), retry_after: None })
        }
        _ => return Err(ProviderError::Fatal { reason: format!("the image URL answered HTTP {status}") }),
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // Blob stores often say octet-stream for images; the decode below is the real check.
    let acceptable = content_type.starts_with("image/")
        || content_type.contains("octet-stream")
        || content_type.is_empty();
    if !acceptable {
        return Err(ProviderError::Fatal {
            reason: format!(
                "the image URL answered with content-type {content_type:?}, not an image"
            ),
        });
    }
    if let Some(len) = response.content_length() {
        check_size(len, max_bytes)?;
    }
    let mut bytes =
        Vec::with_capacity(response.content_length().unwrap_or(0).min(max_bytes) as usize);
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .map_err(|_| ProviderError::Retryable {
                reason: format!(
                    "image download timed out after {:.1} s (limits.request_timeout_secs)",
                    timeout.as_secs_f64()
                ),
                retry_after: None,
            })?
            .map_err(transport)?;
        let Some(chunk) = chunk else { break };
        check_size((bytes.len() + chunk.len()) as u64, max_bytes)?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn check_size(len: u64, max_bytes: u64) -> Result<(), ProviderError> {
    if len > max_bytes {
        Err(ProviderError::Fatal {
            reason: format!("the image is larger than limits.max_image_bytes ({max_bytes} bytes); raise the limit in chorus.toml to accept it"),
        })
    } else {
        Ok(())
    }
}

/// Decodes the bytes fully; returns the extension of the real format.
pub fn validate(bytes: &[u8]) -> Result<&'static str, ProviderError> {
    let format = image::guess_format(bytes).map_err(|e| ProviderError::Fatal {
        reason: format!(
            "the Brush returned something that is not an image ({})",
            chain(&e)
        ),
    })?;
    image::load_from_memory_with_format(bytes, format).map_err(|e| ProviderError::Fatal {
        reason: format!(
            "the Brush returned an image that does not decode ({})",
            chain(&e)
        ),
    })?;
    Ok(format.extensions_str().first().copied().unwrap_or("img"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_uses_the_real_format() {
        let png = super::super::providers::paint("x", 16, 16);
        assert_eq!(validate(&png).unwrap(), "png");
        assert!(validate(b"<html>nope</html>").is_err());
        let mut truncated = png.clone();
        truncated.truncate(png.len() / 2);
        assert!(validate(&truncated).is_err());
    }
}
