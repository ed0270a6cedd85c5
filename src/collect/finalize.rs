//! Stage 3 of a collect run, the finish: the probes (`--probe`), the findings, and the files
//! that describe the bundle — `index.json`, `SUMMARY.txt`, `collector.log` — written last, each
//! redacted and obfuscated like the content it describes.
use super::items::Gathered;
use super::target::Archive;
use super::{rfc3339, Run};
use crate::error::{Error, Result};
use crate::index::{self, Finding, Index, Item, ItemKind, Status};
use crate::layout;
use crate::rules::Evidence;
use chrono::Utc;
use std::time::Instant;

impl Run<'_> {
    /// Stage 3: findings and the bundle's own files into `archive`; the index comes back for the
    /// outcome. `shown_host` is the hostname the bundle shows.
    pub(super) fn finalize(
        &mut self,
        gathered: Gathered,
        archive: &mut Archive,
        shown_host: &str,
    ) -> Result<Index> {
        let settings = self.settings;
        let Gathered {
            mut items,
            mut evidence,
            partial,
            ..
        } = gathered;
        let probes = if settings.probe {
            let (item, results) = self.probe(archive, &evidence)?;
            items.push(item);
            evidence.set_probes(results.clone());
            results
        } else {
            Vec::new()
        };
        let mut findings = evidence.findings(settings.lang);
        for finding in &mut findings {
            self.sanitize_finding(finding);
        }
        index::sort_findings(&mut findings);
        self.note(format!("{} findings", findings.len()));

        let finished = Utc::now();
        let mut index = Index {
            schema: index::SCHEMA.to_string(),
            tool: index::Tool {
                name: "drx-collect".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            host: self.host.clone(),
            case_id: settings.case_id.clone(),
            label: settings.label.clone(),
            started_at: Some(rfc3339(self.started)),
            finished_at: Some(rfc3339(finished)),
            duration_ms: Some(self.clock.elapsed().as_millis() as u64),
            manifest: index::ManifestRef {
                name: self.manifest.name.clone(),
                sha256: self.manifest.sha256.clone(),
            },
            options: index::Options {
                since: settings.since.map(rfc3339),
                obfuscate: settings.obfuscate,
                redact: settings.redact,
                argv: settings
                    .argv
                    .iter()
                    .map(|a| self.privacy.redact_text(a))
                    .collect(),
                probe: settings.probe,
            },
            partial,
            redaction: index::Redaction {
                secrets_redacted: self.privacy.secrets_redacted(),
                obfuscated: settings.obfuscate,
            },
            items,
            findings,
            probes,
        };
        if settings.obfuscate {
            index.host.hostname = shown_host.to_string();
        }
        let index_json = serde_json::to_string_pretty(&index)
            .map_err(|err| Error::failed(format!("cannot encode index.json: {err}")))?;
        let index_json = self.privacy.obfuscate_text(&index_json);
        let summary = crate::summary::render(&index, settings.lang);
        let summary = self.privacy.obfuscate_text(&summary);
        let now = finished.timestamp();
        archive.add_bytes(layout::INDEX, index_json.as_bytes(), now)?;
        archive.add_bytes(layout::SUMMARY, summary.as_bytes(), now)?;
        self.note(format!(
            "done in {:.3} s; {} of data",
            self.clock.elapsed().as_secs_f64(),
            crate::units::human_size(archive.bytes_in())
        ));
        let log = self.privacy.redact_text(&self.log);
        let log = self.privacy.obfuscate_text(&log);
        archive.add_bytes(layout::COLLECTOR_LOG, log.as_bytes(), now)?;
        Ok(index)
    }

    /// The guide's connectivity tests toward the addresses of this node's own configuration,
    /// stored as `commands/probe.txt` (obfuscated like every output).
    fn probe(
        &mut self,
        archive: &mut Archive,
        evidence: &Evidence,
    ) -> Result<(Item, Vec<crate::probe::ProbeResult>)> {
        let started = Instant::now();
        let targets = evidence.probe_targets();
        self.note(format!("probing {} target(s)", targets.len()));
        let results = crate::probe::run(&targets, self.settings.root.is_some());
        let text = self.privacy.obfuscate_text(&crate::probe::render(&results));
        let path = &layout::command_path(layout::PROBE_ID);
        let sha256 = archive.add_bytes(path, text.as_bytes(), Utc::now().timestamp())?;
        let mut item = Item::new(
            layout::PROBE_ID,
            ItemKind::Command,
            "drx-collect probes (ping, TCP connect)",
            Status::Ok,
        );
        item.path = Some(path.into());
        item.bytes = Some(text.len() as u64);
        item.sha256 = Some(sha256);
        item.duration_ms = Some(started.elapsed().as_millis() as u64);
        self.note(format!(
            "probe: {} result(s) in {:.1} s",
            results.len(),
            started.elapsed().as_secs_f64()
        ));
        Ok((item, results))
    }

    /// A finding quotes the clear text the rules saw: it is redacted and obfuscated like the
    /// file it quotes.
    fn sanitize_finding(&mut self, finding: &mut Finding) {
        if let Some(excerpt) = &finding.excerpt {
            let clean = self.privacy.redact_text(excerpt);
            finding.excerpt = Some(self.privacy.obfuscate_text(&clean));
        }
        finding.title = self.privacy.obfuscate_text(&finding.title);
        if let Some(detail) = &finding.detail {
            let clean = self.privacy.redact_text(detail);
            finding.detail = Some(self.privacy.obfuscate_text(&clean));
        }
    }
}
