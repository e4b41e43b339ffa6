//! The brush and download stages of one run. The Brush's answer is recorded beside the run
//! (`store::write_paid`) before the download starts, so nothing paid for is lost: a failed
//! download or a crash leaves the answer, and the next attempt downloads it again while its
//! link is valid. A run is painted again only when the answer is gone, expired or unusable,
//! and then the earlier brush stage moves to `meta.superseded` with its cost.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::events::Event;
use super::image::{self, ImageCaps};
use super::providers::{BrushProvider, BrushRequest, ImageSource, ProviderError};
use super::retry::Attempts;
use super::run::{blocking, cost, fail, stage_done, stage_meta, touch, Recorder};
use super::throttle::Gate;
use super::GenerateError;
use crate::config::Brush;
use crate::store::{self, PaidImage, RunRecord, StageMeta, SupersededStage, Waiting};

/// How long a Brush's image link is trusted when the URL does not say: dall-e-3 links
/// last about an hour.
const DEFAULT_LINK_LIFE: chrono::Duration = chrono::Duration::minutes(60);
/// A link this close to its end is treated as expired: the download would race it.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::seconds(30);

/// The Brush for one run.
pub(super) struct Painter<'a> {
    pub brush: &'a dyn BrushProvider,
    pub config: &'a Brush,
    pub gate: &'a Gate,
    pub seed: u64,
}

/// Brings the run to a stored image. `Ok(Err(run))` when the run ended failed (already
/// recorded); `Ok(Ok(run))` with the image file set and the download stage done.
pub(super) async fn brush_and_download(
    rec: &mut Recorder<'_>,
    run: RunRecord,
    painter: Painter<'_>,
) -> Result<Result<RunRecord, RunRecord>, GenerateError> {
    match image_source(rec, run, painter).await? {
        Ok((run, source)) => download(rec, run, source).await,
        Err(failed) => Ok(Err(failed)),
    }
}

/// Where the run's image is: a paid answer still waiting beside the run (a crash between
/// paint and download), else the Brush's new answer. Err when the Brush failed.
async fn image_source(
    rec: &mut Recorder<'_>,
    mut run: RunRecord,
    painter: Painter<'_>,
) -> Result<Result<(RunRecord, ImageSource), RunRecord>, GenerateError> {
    let batch = rec.batch;
    let dir = group_dir(rec, &run);
    let slug = run.artist_slug.clone();
    let waiting = blocking({
        let dir = dir.clone();
        move || store::read_paid(&dir, &slug)
    })
    .await;
    let now = Utc::now();
    let source = match waiting {
        Some(waiting) if usable(&waiting.paid, now) => adopt(&mut run, waiting),
        stale => {
            let reason = match &stale {
                Some(w) => format!(
                    "its image link expired at {} before the image was downloaded",
                    w.paid.expires_at.map_or("?".into(), |t| t.to_rfc3339())
                ),
                None => match run.meta.download.as_ref().and_then(|d| d.error.as_deref()) {
                    Some(error) => format!("its image could not be used ({error})"),
                    None => "its image was never stored".to_string(),
                },
            };
            if stale.is_some() || stage_done(&run.meta.brush) {
                batch.events.emit(Event::Notice {
                    message: format!(
                        "artist {:?}, group {}: the Brush is painting again: {reason}",
                        run.artist_slug, run.run_group_id
                    ),
                });
            }
            if let Some(stale) = stale {
                // Recorded in the run before it goes, so its cost stays counted.
                if !same_stage(&run, &stale.paid) {
                    supersede(&mut run, &reason);
                    run.meta.brush = Some(stale.paid.brush);
                }
                forget(rec, &run).await;
            }
            supersede(&mut run, &reason);
            match paint(rec, run, &painter).await? {
                Ok((r, source)) => {
                    run = r;
                    source
                }
                Err(failed) => return Ok(Err(failed)),
            }
        }
    };
    Ok(Ok((run, source)))
}

/// Downloads (or decodes) the image, checks it and stores it beside the run.
async fn download(
    rec: &mut Recorder<'_>,
    mut run: RunRecord,
    source: ImageSource,
) -> Result<Result<RunRecord, RunRecord>, GenerateError> {
    let batch = rec.batch;
    let dir = group_dir(rec, &run);
    let started = Instant::now();
    let (kit, limits) = (&batch.kit, &batch.limits);
    let caps = ImageCaps {
        max_bytes: limits.max_image_bytes,
        max_pixels: limits.max_image_pixels,
    };
    let (result, attempts) = batch
        .attempt(&run, "download", &Gate::default(), || {
            image::obtain(&kit.download, &source, kit.timeout, caps)
        })
        .await;
    let kind = match source {
        ImageSource::Bytes(_) => "inline",
        ImageSource::Url(_) => "url",
    };
    let params = BTreeMap::from([("source".to_string(), serde_json::Value::from(kind))]);
    let keep_answer = attempts.gave_up;
    let mut stage = stage_meta(None, None, params, started, attempts);
    let checked = match result {
        Ok(checked) => checked,
        Err(e) => {
            // A transient failure that ran out of tries, or Ctrl-C: the answer stays for
            // `resume`. Anything else will not get better: the next attempt paints again.
            if !keep_answer && !matches!(e, ProviderError::Interrupted) {
                forget(rec, &run).await;
            }
            return fail(rec, run, stage, |m| &mut m.download, "download", e)
                .await
                .map(Err);
        }
    };
    stage
        .params
        .insert("bytes".into(), checked.bytes.len().into());
    stage
        .params
        .insert("format".into(), checked.extension.into());
    let name = store::image_file_name(&run.artist_slug, checked.extension);
    let path = dir.join(&name);
    let written = blocking({
        let path = path.clone();
        let runs_dir = dir.parent().unwrap_or(&dir).to_path_buf();
        move || store::write_under(&runs_dir, &path, &checked.bytes).map_err(|e| e.to_string())
    })
    .await;
    if let Err(e) = written {
        let reason = format!("cannot write {}: {e}", path.display());
        let error = super::providers::fault::Fault::Local.error(reason);
        return fail(rec, run, stage, |m| &mut m.download, "download", error)
            .await
            .map(Err);
    }
    stage.latency_ms = started.elapsed().as_millis() as u64;
    stage.finished_at = Utc::now();
    run.image_file = Some(name);
    run.meta.download = Some(stage);
    Ok(Ok(run))
}

/// Asks the Brush, records the paid answer beside the run and in it, and returns what
/// to download.
async fn paint(
    rec: &mut Recorder<'_>,
    mut run: RunRecord,
    painter: &Painter<'_>,
) -> Result<Result<(RunRecord, ImageSource), RunRecord>, GenerateError> {
    let batch = rec.batch;
    if batch.stop.is_set() {
        return super::run::interrupted(rec, run, "brush").await.map(Err);
    }
    let started = Instant::now();
    let request = BrushRequest {
        image_prompt: run.image_prompt.clone(),
        seed: painter.seed,
    };
    let brush = painter.brush;
    let (result, attempts) = batch
        .attempt(&run, "brush", painter.gate, || brush.paint(&request))
        .await;
    let mut stage = stage_meta(
        Some(&painter.config.provider),
        Some(&painter.config.model),
        brush.params(),
        started,
        attempts,
    );
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => {
            return fail(rec, run, stage, |m| &mut m.brush, "brush", e)
                .await
                .map(Err)
        }
    };
    stage.request_id = reply.request_id.clone();
    stage.answered_model = reply.model.clone();
    stage.cost = cost(reply.cost_usd, || painter.config.price.per_image);
    run.revised_prompt = reply.revised_prompt.clone();
    run.meta.brush = Some(stage.clone());
    run.meta.download = None;
    touch(&mut run);
    let source = match image::accept(reply.image, batch.limits.max_image_bytes) {
        Ok(source) => source,
        Err(e) => {
            // Paid, but nothing chorus will fetch: the download stage fails for good.
            let stage = refused_stage();
            return fail(rec, run, stage, |m| &mut m.download, "download", e)
                .await
                .map(Err);
        }
    };
    let written = if brush.paid() {
        record_answer(rec, &run, stage, reply.revised_prompt, &source).await
    } else {
        Ok(())
    };
    if let Err(e) = written {
        let error = super::providers::fault::Fault::Local
            .error(format!("cannot record the Brush's answer: {e}"));
        let stage = refused_stage();
        return fail(rec, run, stage, |m| &mut m.download, "download", error)
            .await
            .map(Err);
    }
    rec.save_behind(&run).await?;
    Ok(Ok((run, source)))
}

/// Writes the Brush's answer beside the run (`store::write_paid`), off the async workers.
async fn record_answer(
    rec: &Recorder<'_>,
    run: &RunRecord,
    brush: StageMeta,
    revised_prompt: Option<String>,
    source: &ImageSource,
) -> std::io::Result<()> {
    let (url, bytes) = match source {
        ImageSource::Url(url) => (Some(url.clone()), None),
        ImageSource::Bytes(bytes) => (None, Some(bytes.clone())),
    };
    let paid = PaidImage {
        brush,
        revised_prompt,
        expires_at: url.as_deref().map(|u| link_expiry(u, Utc::now())),
        url,
    };
    let (dir, slug) = (group_dir(rec, run), run.artist_slug.clone());
    blocking(move || store::write_paid(&dir, &slug, &paid, bytes.as_deref())).await
}

/// The download stage of an answer that was refused before anything was fetched.
fn refused_stage() -> StageMeta {
    let once = Attempts {
        count: 1,
        ..Attempts::default()
    };
    stage_meta(None, None, BTreeMap::new(), Instant::now(), once)
}

/// A waiting answer is used while its link is valid; bytes never expire.
fn usable(paid: &PaidImage, now: DateTime<Utc>) -> bool {
    match (&paid.url, paid.expires_at) {
        (Some(_), Some(expires)) => expires - EXPIRY_MARGIN > now,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Takes a waiting answer into the run. A crash between writing the answer and writing
/// the run leaves the run without the stage that paid for it: the answer brings it back.
fn adopt(run: &mut RunRecord, waiting: Waiting) -> ImageSource {
    if !same_stage(run, &waiting.paid) {
        supersede(run, "painted again");
        run.meta.brush = Some(waiting.paid.brush.clone());
        run.revised_prompt = waiting.paid.revised_prompt.clone();
    }
    run.meta.download = None;
    match (waiting.paid.url, waiting.bytes) {
        (Some(url), _) => ImageSource::Url(url),
        (None, bytes) => ImageSource::Bytes(bytes.unwrap_or_default()),
    }
}

fn same_stage(run: &RunRecord, paid: &PaidImage) -> bool {
    run.meta
        .brush
        .as_ref()
        .is_some_and(|b| b.finished_at == paid.brush.finished_at)
}

/// Moves a done (paid) brush stage to `meta.superseded` before it is replaced.
fn supersede(run: &mut RunRecord, reason: &str) {
    if stage_done(&run.meta.brush) {
        if let Some(meta) = run.meta.brush.take() {
            run.meta.superseded.push(SupersededStage {
                stage: "brush".into(),
                reason: reason.to_string(),
                meta,
            });
        }
    }
}

fn group_dir(rec: &Recorder<'_>, run: &RunRecord) -> PathBuf {
    store::group_dir(&rec.batch.runs_dir, &run.run_group_id)
}

/// Removes the run's waiting answer; a failure only leaves a git-ignored file behind.
pub(super) async fn forget(rec: &Recorder<'_>, run: &RunRecord) {
    let (dir, slug) = (group_dir(rec, run), run.artist_slug.clone());
    let _ = blocking(move || store::remove_paid(&dir, &slug)).await;
}

/// When a signed image URL stops working, as far as the URL says: Azure SAS `se=`
/// (dall-e-3), S3 `X-Amz-Date` + `X-Amz-Expires`, or an `Expires=` epoch (CloudFront,
/// GCS). Otherwise an hour from `received`.
pub fn link_expiry(url: &str, received: DateTime<Utc>) -> DateTime<Utc> {
    let fallback = received + DEFAULT_LINK_LIFE;
    let Ok(url) = reqwest::Url::parse(url) else {
        return fallback;
    };
    let query: BTreeMap<String, String> = url
        .query_pairs()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    if let Some(se) = query.get("se") {
        if let Ok(t) = DateTime::parse_from_rfc3339(se) {
            return t.with_timezone(&Utc);
        }
    }
    if let (Some(date), Some(secs)) = (query.get("x-amz-date"), query.get("x-amz-expires")) {
        let start = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ");
        if let (Ok(start), Ok(secs)) = (start, secs.parse::<i64>()) {
            return start.and_utc() + chrono::Duration::seconds(secs);
        }
    }
    if let Some(t) = query
        .get("expires")
        .and_then(|e| e.parse::<i64>().ok())
        .and_then(|e| DateTime::from_timestamp(e, 0))
    {
        return t;
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_expiry_reads_what_the_url_says() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            link_expiry(
                "https://x.blob.core.windows.net/a.png?st=2026-01-01T09%3A59%3A00Z&se=2026-01-01T11%3A00%3A00Z&sig=abc",
                now
            ),
            at("2026-01-01T11:00:00Z")
        );
        assert_eq!(
            link_expiry(
                "https://s3.example/a.png?X-Amz-Date=20260101T100000Z&X-Amz-Expires=900&X-Amz-Signature=x",
                now
            ),
            at("2026-01-01T10:15:00Z")
        );
        assert_eq!(
            link_expiry("https://cdn.example/a.png?Expires=1767265200", now),
            at("2026-01-01T11:00:00Z")
        );
        assert_eq!(
            link_expiry("https://cdn.example/a.png", now),
            at("2026-01-01T11:00:00Z")
        );
    }
}
