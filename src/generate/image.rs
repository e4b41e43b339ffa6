//! The download stage: turns a Brush's answer into checked image bytes. Bytes in hand and
//! raster data URLs are taken as they are, http(s) URLs are fetched (streamed, capped, no
//! credentials, a few redirects), every other URL is refused. The header's pixel size is
//! checked before anything is decoded, then the image is decoded fully. The URL is never
//! logged or returned in an error: it may be signed.

use std::io::Cursor;
use std::time::Duration;

use super::providers::fault::Fault;
use super::providers::http::{chain, read_body, too_large, transport_error, Caller, Cap};
use super::providers::{decode_base64, ImageSource, ProviderError};

/// Data URL media types accepted: the raster formats chorus decodes and publishes.
const DATA_URL_TYPES: &[&str] = &["image/png", "image/jpeg", "image/jpg", "image/webp"];

/// What an image may be: bytes on the wire, pixels once decoded.
#[derive(Debug, Clone, Copy)]
pub struct ImageCaps {
    pub max_bytes: u64,
    pub max_pixels: u64,
}

/// A validated image and the extension of its decoded format.
#[derive(Debug)]
pub struct CheckedImage {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
}

/// Decides what the download stage does with a Brush's answer: bytes stay bytes, a raster
/// data URL becomes bytes, an http(s) URL is kept to fetch, anything else is refused for
/// good (asking again would give the same answer).
pub fn accept(source: ImageSource, max_bytes: u64) -> Result<ImageSource, ProviderError> {
    let url = match source {
        ImageSource::Bytes(bytes) => return Ok(ImageSource::Bytes(bytes)),
        ImageSource::Url(url) => url,
    };
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        "data" => decode_data_url(&url, max_bytes).map(ImageSource::Bytes),
        "http" | "https" if reqwest::Url::parse(&url).is_ok() => Ok(ImageSource::Url(url)),
        "http" | "https" => Err(Fault::RefusedUrl.error(
            "the Brush answered with an image URL that does not parse",
        )),
        _ => Err(Fault::RefusedUrl.error(format!(
            "the Brush answered with a {:?} URL; chorus only downloads http and https images and accepts PNG, JPEG or WebP data URLs",
            format!("{}:", scheme.chars().take(16).collect::<String>())
        ))),
    }
}

/// `data:image/png;base64,....` → bytes. Only raster types chorus can decode and publish;
/// SVG (which can carry script) and everything else is refused.
fn decode_data_url(url: &str, max_bytes: u64) -> Result<Vec<u8>, ProviderError> {
    let (header, data) = url
        .split_once(',')
        .ok_or_else(|| Fault::BadReply.error("the image data URL has no ',' separator"))?;
    let header = header.to_ascii_lowercase();
    let mut parts = header.trim_start_matches("data:").split(';');
    let media_type = parts.next().unwrap_or_default().trim().to_string();
    if !DATA_URL_TYPES.contains(&media_type.as_str()) {
        return Err(Fault::RefusedUrl.error(format!(
            "the Brush answered with a data URL of type {media_type:?}; chorus accepts only PNG, JPEG or WebP images"
        )));
    }
    if !parts.any(|p| p.trim() == "base64") {
        return Err(Fault::BadReply.error(format!("the image data URL is not base64 ({header})")));
    }
    decode_base64(data, "the image data URL", max_bytes)
}

/// Fetches (if needed) and validates the image.
pub async fn obtain(
    client: &reqwest::Client,
    source: &ImageSource,
    timeout: Duration,
    caps: ImageCaps,
) -> Result<CheckedImage, ProviderError> {
    let bytes = match source {
        ImageSource::Bytes(bytes) => {
            check_size(bytes.len() as u64, caps.max_bytes)?;
            bytes.clone()
        }
        ImageSource::Url(url) => download(client, url, timeout, caps.max_bytes).await?,
    };
    tokio::task::spawn_blocking(move || {
        let extension = validate(&bytes, caps.max_pixels)?;
        Ok(CheckedImage { bytes, extension })
    })
    .await
    .map_err(|e| Fault::Local.error(format!("image check stopped: {e}")))?
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    max_bytes: u64,
) -> Result<Vec<u8>, ProviderError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| Fault::RefusedUrl.error("the image URL does not parse"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Fault::RefusedUrl.error("chorus only downloads http and https images"));
    }
    let host = parsed.host_str().unwrap_or_default().to_string();
    let caller = Caller::new(format!("image download from {host}"), None);
    let response = client
        .get(parsed)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| transport_error(e, timeout, &caller))?;
    let status = response.status().as_u16();
    let fault = Fault::Status(status);
    match status {
        200..=299 => {}
        401 | 403 | 404 | 410 => {
            return Err(fault.error(format!(
                "the image URL answered HTTP {status}: it has expired or is not readable (Brush links last about an hour); run `chorus resume` to paint it again"
            )))
        }
        _ => return Err(fault.error(format!("the image host answered HTTP {status}"))),
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
        return Err(Fault::BadReply.error(format!(
            "the image URL answered with content-type {content_type:?}, not an image"
        )));
    }
    let body = read_body(response, max_bytes)
        .await
        .map_err(|e| transport_error(e, timeout, &caller))?;
    if !body.complete {
        return Err(too_large(&caller.label, "the image", image_cap(max_bytes)));
    }
    Ok(body.bytes)
}

fn image_cap(max_bytes: u64) -> Cap {
    Cap {
        bytes: max_bytes,
        limit: "limits.max_image_bytes",
    }
}

fn check_size(len: u64, max_bytes: u64) -> Result<(), ProviderError> {
    if len > max_bytes {
        Err(too_large("the Brush", "the image", image_cap(max_bytes)))
    } else {
        Ok(())
    }
}

/// Checks the pixel size in the header, then decodes the bytes fully; returns the
/// extension of the real format. Nothing is decoded for an image over `max_pixels`.
pub fn validate(bytes: &[u8], max_pixels: u64) -> Result<&'static str, ProviderError> {
    let format = image::guess_format(bytes).map_err(|e| {
        Fault::BadReply.error(format!(
            "the Brush returned something that is not an image ({})",
            chain(&e)
        ))
    })?;
    let undecodable = |e: image::ImageError| {
        Fault::BadReply.error(format!(
            "the Brush returned an image that does not decode ({})",
            chain(&e)
        ))
    };
    let (width, height) = image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(undecodable)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(Fault::TooLarge.error(format!(
            "the image declares {width}×{height} pixels ({:.1} megapixels), more than limits.max_image_pixels ({max_pixels}); it was refused before decoding",
            pixels as f64 / 1e6
        )));
    }
    image::ImageReader::with_format(Cursor::new(bytes), format)
        .decode()
        .map_err(undecodable)?;
    Ok(format.extensions_str().first().copied().unwrap_or("img"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_uses_the_real_format() {
        let png = super::super::providers::paint("x", 16, 16);
        assert_eq!(validate(&png, 1_000).unwrap(), "png");
        assert!(validate(b"<html>nope</html>", 1_000).is_err());
        let mut truncated = png.clone();
        truncated.truncate(png.len() / 2);
        assert!(validate(&truncated, 1_000).is_err());
    }

    #[test]
    fn pixels_are_checked_from_the_header_before_decoding() {
        // A PNG declaring 100000 × 100000 with no pixel data at all: refused for its size
        // (a decode would fail differently, and allocate first).
        let ihdr = [
            100_000u32.to_be_bytes().as_slice(),
            100_000u32.to_be_bytes().as_slice(),
            &[8, 0, 0, 0, 0],
        ]
        .concat();
        let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
        bomb.extend(chunk(b"IHDR", &ihdr));
        bomb.extend(chunk(b"IDAT", &[]));
        let error = validate(&bomb, 40_000_000).unwrap_err().to_string();
        assert!(
            error.contains("100000×100000") && error.contains("max_image_pixels"),
            "{error}"
        );
        let png = super::super::providers::paint("x", 16, 16);
        assert!(validate(&png, 255).is_err(), "16×16 is 256 pixels");
    }

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let body = [kind.as_slice(), data].concat();
        let len = u32::try_from(data.len()).unwrap().to_be_bytes();
        [len.as_slice(), &body, &crc(&body).to_be_bytes()].concat()
    }

    fn crc(bytes: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn answers_are_accepted_or_refused_for_good() {
        use base64::Engine;
        let png = super::super::providers::paint("x", 4, 4);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
        let url = format!("data:image/png;base64,{b64}");
        assert!(
            matches!(accept(ImageSource::Url(url), 1 << 20), Ok(ImageSource::Bytes(b)) if b == png)
        );
        let webp = format!("data:image/webp;base64,{b64}");
        assert!(accept(ImageSource::Url(webp), 1 << 20).is_ok());
        for refused in [
            "data:image/svg+xml;base64,PHN2Zy8+",
            "data:text/html;base64,PGgxPg==",
            "file:///etc/passwd",
            "ftp://example.com/a.png",
            "javascript:alert(1)",
        ] {
            let e = accept(ImageSource::Url(refused.into()), 1 << 20).unwrap_err();
            assert!(matches!(e, ProviderError::Fatal { .. }), "{refused}: {e}");
        }
        let big = format!("data:image/png;base64,{}", "A".repeat(4000));
        let e = accept(ImageSource::Url(big), 1000).unwrap_err().to_string();
        assert!(e.contains("max_image_bytes"), "{e}");
        assert!(matches!(
            accept(ImageSource::Url("https://cdn.example/a.png".into()), 10),
            Ok(ImageSource::Url(_))
        ));
    }
}
