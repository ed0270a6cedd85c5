//! Runs command items in parallel (`--jobs`), so that a node with several hung tools still
//! finishes in about one timeout. The writer takes results in manifest order.
use super::plan::CommandSource;
use crate::index::Status;
use crate::process::{self, CommandOutput};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

struct Slot {
    result: Mutex<Option<CommandOutput>>,
    ready: Condvar,
}

pub struct Pool {
    slots: Arc<Vec<Slot>>,
}

pub struct Limits {
    pub default_timeout: Duration,
    pub output_cap: usize,
    /// `--total-timeout`: no command starts after it, and none runs past it.
    pub deadline: Option<Instant>,
    /// Look commands up in PATH only (under `--root`).
    pub path_only: bool,
}

impl Pool {
    /// Starts `jobs` workers over `commands`; slot `i` gets the result of `commands[i]`.
    pub fn start(commands: Vec<CommandSource>, jobs: usize, limits: Limits) -> Pool {
        let slots: Arc<Vec<Slot>> = Arc::new(
            (0..commands.len())
                .map(|_| Slot {
                    result: Mutex::new(None),
                    ready: Condvar::new(),
                })
                .collect(),
        );
        let queue = Arc::new(Mutex::new(
            commands.into_iter().enumerate().collect::<VecDeque<_>>(),
        ));
        let limits = Arc::new(limits);
        for _ in 0..jobs.max(1) {
            let queue = Arc::clone(&queue);
            let slots = Arc::clone(&slots);
            let limits = Arc::clone(&limits);
            thread::spawn(move || loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some((index, source)) = next else { break };
                let output = run_one(&source, &limits);
                let slot = &slots[index];
                *slot.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(output);
                slot.ready.notify_all();
            });
        }
        Pool { slots }
    }

    /// Waits for the result of command `index`.
    pub fn wait(&self, index: usize) -> CommandOutput {
        let slot = &self.slots[index];
        let mut result = slot.result.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(output) = result.take() {
                return output;
            }
            result = slot
                .ready
                .wait_timeout(result, Duration::from_millis(100))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

fn run_one(source: &CommandSource, limits: &Limits) -> CommandOutput {
    let mut timeout = source.timeout.unwrap_or(limits.default_timeout);
    if let Some(deadline) = limits.deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return CommandOutput {
                status: Some(Status::Skipped),
                error: Some("not started: --total-timeout was reached".into()),
                ..CommandOutput::default()
            };
        }
        timeout = timeout.min(left);
    }
    if crate::platform::interrupted().is_some() {
        return CommandOutput {
            status: Some(Status::Skipped),
            error: Some("not started: the run was interrupted".into()),
            ..CommandOutput::default()
        };
    }
    process::run(
        &source.argv,
        timeout,
        limits.output_cap,
        &source.ok_exit_codes,
        limits.path_only,
    )
}
