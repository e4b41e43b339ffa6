//! The one place that decides whether a failed call is worth another try. Every provider,
//! the image download and the batch name what went wrong as a [`Fault`]; [`transient`]
//! alone says whether waiting can help, and [`Fault::error`] turns it into the
//! [`ProviderError`] the retry loop acts on. Nothing else decides retryability inline.

use std::time::Duration;

use super::ProviderError;

/// What went wrong, in the terms retrying cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A status other than success, from a provider or an image host.
    Status(u16),
    /// The request timed out (whole request, body included).
    Timeout,
    /// The connection could not be made.
    Connect,
    /// The connection dropped or reset mid-request or mid-reply.
    Dropped,
    /// A redirect chorus will not follow: any redirect of an API call (it would carry the
    /// key to wherever the provider points), a loop, or too many hops on a download.
    Redirect,
    /// A URL chorus refuses to fetch: `file://`, `ftp://`, an SVG or non-image data URL.
    RefusedUrl,
    /// A reply or image over a `[limits]` cap.
    TooLarge,
    /// A reply that is not what the protocol promises: invalid, empty or truncated JSON, a
    /// missing field, bytes that are not an image, an image too many pixels large.
    BadReply,
    /// Our own side failed (the HTTP client could not be built, a file could not be written).
    Local,
}

/// Whether trying the same request again may succeed. Servers under load, rate limits,
/// timeouts and dropped connections pass; everything the provider or chorus decided on
/// purpose (refusals, redirects, caps, bad replies) comes out the same every time.
pub fn transient(fault: Fault) -> bool {
    match fault {
        Fault::Status(status) => matches!(status, 408 | 425 | 429 | 500..=599),
        Fault::Timeout | Fault::Connect | Fault::Dropped => true,
        Fault::Redirect | Fault::RefusedUrl | Fault::TooLarge | Fault::BadReply | Fault::Local => {
            false
        }
    }
}

impl Fault {
    /// The error for this fault: retryable exactly when [`transient`] says so.
    pub fn error(self, reason: impl Into<String>) -> ProviderError {
        self.error_after(reason, None)
    }

    /// As [`Fault::error`], with the wait the provider asked for (`Retry-After`).
    pub fn error_after(
        self,
        reason: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> ProviderError {
        let reason = reason.into();
        if transient(self) {
            ProviderError::Retryable {
                reason,
                retry_after,
            }
        } else {
            ProviderError::Fatal { reason }
        }
    }
}

/// What a reqwest failure was. reqwest reports a redirect it refused and a URL it cannot
/// fetch as errors too; those are final, unlike timeouts and dropped connections.
pub fn of_transport(error: &reqwest::Error) -> Fault {
    if error.is_redirect() {
        Fault::Redirect
    } else if error.is_builder() {
        Fault::RefusedUrl
    } else if error.is_timeout() {
        Fault::Timeout
    } else if error.is_connect() {
        Fault::Connect
    } else {
        Fault::Dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_load_and_network_faults_are_transient() {
        for status in [408, 425, 429, 500, 502, 503, 529] {
            assert!(transient(Fault::Status(status)), "{status}");
        }
        for status in [301, 302, 307, 400, 401, 403, 404, 410, 422] {
            assert!(!transient(Fault::Status(status)), "{status}");
        }
        assert!(
            transient(Fault::Timeout) && transient(Fault::Connect) && transient(Fault::Dropped)
        );
        for fault in [
            Fault::Redirect,
            Fault::RefusedUrl,
            Fault::TooLarge,
            Fault::BadReply,
            Fault::Local,
        ] {
            assert!(!transient(fault), "{fault:?}");
            assert!(matches!(fault.error("x"), ProviderError::Fatal { .. }));
        }
        assert!(matches!(
            Fault::Status(529).error_after("busy", Some(Duration::from_secs(2))),
            ProviderError::Retryable {
                retry_after: Some(_),
                ..
            }
        ));
    }
}
