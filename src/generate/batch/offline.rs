//! The offline Artists' simulated batch: `submit` keeps the lines as an "uploaded" JSONL
//! file under `.chorus-cache/offline-batches/`, `poll` reports the batch ended, and
//! `results` has the offline Artists answer every line. Same lifecycle and bookkeeping
//! as a real provider's, no key and no network, so the flow can be shown and tested.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::wire::jsonl;
use super::{Answer, BatchApi, BatchLine, LineResult, Phase, Progress};
use crate::config::Artist;
use crate::generate::providers::{
    ArtistProvider, ArtistReply, ArtistRequest, OfflineArtist, ProviderError,
};
use crate::store::Tokens;

pub struct OfflineBatch {
    personality: String,
    dir: PathBuf,
}

impl OfflineBatch {
    pub fn new(artist: &Artist, cache_dir: &Path) -> Result<OfflineBatch, ProviderError> {
        OfflineArtist::new(&artist.model)?;
        Ok(OfflineBatch {
            personality: artist.model.clone(),
            dir: cache_dir.join("offline-batches"),
        })
    }

    fn file(&self, id: &str) -> Result<PathBuf, ProviderError> {
        // The id comes from a run file: it must name a file inside our folder, nothing else.
        if !super::safe_batch_id(id) {
            return Err(ProviderError::Fatal {
                reason: format!("offline batch id {id:?} is not one chorus made"),
            });
        }
        Ok(self.dir.join(format!("{id}.jsonl")))
    }

    fn read(&self, id: &str) -> Result<Vec<Value>, ProviderError> {
        let path = self.file(id)?;
        let text = std::fs::read_to_string(&path).map_err(|e| ProviderError::Fatal {
            reason: format!(
                "the simulated batch's input {} cannot be read ({e}); `chorus resume` runs these offline Artists directly",
                path.display()
            ),
        })?;
        Ok(jsonl(&text).0)
    }
}

#[async_trait::async_trait]
impl BatchApi for OfflineBatch {
    fn provider(&self) -> &'static str {
        "offline"
    }

    fn max_requests(&self) -> usize {
        50_000
    }

    fn body(&self, prompt: &str, seed: u64) -> Value {
        json!({ "model": self.personality, "prompt": prompt, "seed": seed })
    }

    fn params(&self) -> BTreeMap<String, Value> {
        BTreeMap::from([("personality".to_string(), self.personality.clone().into())])
    }

    fn parse(&self, body: &Value) -> Result<Answer, ProviderError> {
        let text =
            body.get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| ProviderError::Fatal {
                    reason: "offline batch: a result has no text".into(),
                })?;
        let tokens = body.get("usage").and_then(|u| {
            Some(Tokens {
                input: u.get("input")?.as_u64()?,
                output: u.get("output")?.as_u64()?,
            })
        });
        Ok(Answer::Text(ArtistReply {
            text: text.to_string(),
            tokens,
            cost_usd: None,
            request_id: None,
            warnings: Vec::new(),
            model: None,
        }))
    }

    async fn submit(&self, lines: &[BatchLine]) -> Result<String, ProviderError> {
        let id = format!("offline-batch-{}", uuid::Uuid::new_v4().simple());
        let mut file = Vec::new();
        for line in lines {
            file.extend_from_slice(
                json!({ "custom_id": line.custom_id, "body": line.body })
                    .to_string()
                    .as_bytes(),
            );
            file.push(b'\n');
        }
        let path = self.file(&id)?;
        crate::fsutil::write_atomic(&path, &file).map_err(|e| ProviderError::Fatal {
            reason: format!("cannot write {}: {e}", path.display()),
        })?;
        Ok(id)
    }

    async fn poll(&self, id: &str) -> Result<Progress, ProviderError> {
        let (phase, total) = match self.read(id) {
            Ok(lines) => (Phase::Ended, lines.len() as u64),
            Err(e) => (Phase::Failed(e.to_string()), 0),
        };
        let ended = phase == Phase::Ended;
        Ok(Progress {
            state: if ended { "ended" } else { "lost" }.to_string(),
            phase,
            total,
            succeeded: if ended { total } else { 0 },
            failed: 0,
            handles: Value::Null,
        })
    }

    async fn results(
        &self,
        id: &str,
        _progress: &Progress,
    ) -> Result<Vec<LineResult>, ProviderError> {
        let mut out = Vec::new();
        for line in self.read(id)? {
            let Some(custom_id) = line.get("custom_id").and_then(Value::as_str) else {
                continue;
            };
            let body = &line["body"];
            let model = body
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let request = ArtistRequest {
                prompt: body
                    .get("prompt")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                seed: body.get("seed").and_then(Value::as_u64).unwrap_or(0),
            };
            let outcome = match OfflineArtist::new(model) {
                Ok(artist) => artist
                    .write(&request)
                    .await
                    .map(|reply| {
                        let usage = reply
                            .tokens
                            .map(|t| json!({ "input": t.input, "output": t.output }));
                        json!({ "text": reply.text, "usage": usage })
                    })
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            out.push(LineResult {
                custom_id: custom_id.to_string(),
                outcome,
            });
        }
        Ok(out)
    }
}
