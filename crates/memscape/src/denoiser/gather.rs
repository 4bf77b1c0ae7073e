//! [`Gathered`]: one denoiser call for the work of many threads. The census, settling,
//! Newton–Krylov and Arnoldi run every start on its own thread, each asking for a few rows per
//! iteration (a Jacobian-vector product is 2 rows). For a model behind a slow call (a Python
//! callable, a GPU), [`gathered`] runs that work on a pool of many threads and funnels their
//! calls through one [`Gathered`] denoiser: a call waits until every pool thread has asked, or
//! until no other call has come for a short quiet time, and then one thread makes a single call
//! of the model on all the rows asked for (one call per noise level) and hands each caller its
//! rows. Rows are denoised independently, so every result equals the unbatched path's for a
//! model whose rows do not depend on each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView2, Axis};

use super::{Arithmetic, Denoiser};
use crate::error::{Error, Result};

/// How long a gathered call waits for another before the batch is sent, when fewer threads
/// wait than asked last time (a start has ended, or the first batch).
pub const QUIET: Duration = Duration::from_millis(2);

/// Calls and rows that reached the model through a [`Gathered`] denoiser.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct GatherStats {
    /// Calls made of the model.
    pub calls: usize,
    /// Rows those calls carried.
    pub rows: usize,
    /// Calls the threads made of the gathered denoiser.
    pub requests: usize,
}

#[derive(Default)]
struct State {
    next: u64,
    /// Waiting requests: id, noise level, rows.
    pending: Vec<(u64, f64, Array2<f64>)>,
    /// When the last request arrived.
    last: Option<Instant>,
    done: HashMap<u64, Array2<f64>>,
    /// A thread is calling the model.
    flushing: bool,
    /// How many requests the next batch waits for: the last batch's (the threads likely to ask
    /// again, each waiting on one request at a time), or half the last expectation if more.
    expected: Option<usize>,
    /// The model panicked (an interrupt unwinds so): every waiting call panics too.
    failed: bool,
}

/// A denoiser that gathers concurrent calls into one call of `inner` (module docs).
pub struct Gathered<'a, D: Denoiser + ?Sized> {
    inner: &'a D,
    /// At most this many threads ask at once (the pool's).
    threads: usize,
    quiet: Duration,
    state: Mutex<State>,
    changed: Condvar,
    calls: AtomicUsize,
    rows: AtomicUsize,
    requests: AtomicUsize,
}

impl<'a, D: Denoiser + ?Sized> Gathered<'a, D> {
    /// Gathers the calls of up to `threads` threads, sending a batch when as many wait as
    /// asked last time (all `threads` the first time; never fewer than half the last
    /// expectation), or after `quiet` without a new call.
    pub fn new(inner: &'a D, threads: usize, quiet: Duration) -> Self {
        Gathered {
            inner,
            threads: threads.max(1),
            quiet,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            calls: AtomicUsize::new(0),
            rows: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        }
    }

    /// The calls and rows so far.
    pub fn stats(&self) -> GatherStats {
        GatherStats {
            calls: self.calls.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }

    /// Sends `batch` to the model, one call per noise level (in order of first appearance),
    /// and splits the results by request.
    fn send(&self, batch: Vec<(u64, f64, Array2<f64>)>) -> Vec<(u64, Array2<f64>)> {
        let mut levels: Vec<f64> = vec![];
        for (_, sigma, _) in &batch {
            if !levels.iter().any(|s| s.to_bits() == sigma.to_bits()) {
                levels.push(*sigma);
            }
        }
        let mut out = Vec::with_capacity(batch.len());
        for sigma in levels {
            let of: Vec<&(u64, f64, Array2<f64>)> = batch
                .iter()
                .filter(|b| b.1.to_bits() == sigma.to_bits())
                .collect();
            let views: Vec<ArrayView2<f64>> = of.iter().map(|b| b.2.view()).collect();
            let rows = ndarray::concatenate(Axis(0), &views).expect("rows of one dimension");
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.rows.fetch_add(rows.nrows(), Ordering::Relaxed);
            // on a thread of its own: a pool thread waiting on the model's own parallel work
            // could steal another start, which would then wait on this very batch
            let denoised = std::thread::scope(|scope| {
                let call = scope.spawn(|| self.inner.denoise(rows.view(), sigma));
                call.join()
                    .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
            });
            let mut at = 0;
            for b in of {
                let n = b.2.nrows();
                out.push((b.0, denoised.slice(ndarray::s![at..at + n, ..]).to_owned()));
                at += n;
            }
        }
        out
    }
}

impl<D: Denoiser + ?Sized> Denoiser for Gathered<'_, D> {
    fn denoise(&self, x: ArrayView2<f64>, sigma: f64) -> Array2<f64> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let lock = || self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut state = lock();
        let id = state.next;
        state.next += 1;
        state.pending.push((id, sigma, x.to_owned()));
        state.last = Some(Instant::now());
        // no wake-up on arrival (with hundreds of threads, waking every waiter at each arrival
        // costs more than the batch saves): the thread that completes a batch sends it, the
        // oldest waiter sends it when the quiet time is up, and a send wakes everyone
        loop {
            if let Some(rows) = state.done.remove(&id) {
                return rows;
            }
            if state.failed {
                drop(state);
                crate::progress::check_interrupt();
                panic!("a gathered denoiser call failed on another thread");
            }
            let quiet_for = state.last.map_or(Duration::ZERO, |t| t.elapsed());
            let expected = state.expected.unwrap_or(self.threads).min(self.threads);
            let due = state.pending.len() >= expected || quiet_for >= self.quiet;
            if !state.flushing && due && !state.pending.is_empty() {
                state.flushing = true;
                // as many as this batch, but not below half the last expectation: one
                // straggler sent alone must not make every later call go alone
                let half = state.expected.unwrap_or(self.threads) / 2;
                state.expected = Some(state.pending.len().max(half));
                let batch = std::mem::take(&mut state.pending);
                drop(state);
                let sent =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.send(batch)));
                state = lock();
                state.flushing = false;
                match sent {
                    Ok(results) => state.done.extend(results),
                    Err(payload) => {
                        state.failed = true;
                        self.changed.notify_all();
                        drop(state);
                        std::panic::resume_unwind(payload);
                    }
                }
                self.changed.notify_all();
                continue;
            }
            let oldest = state.pending.first().is_some_and(|p| p.0 == id);
            state = if oldest && !state.flushing {
                let wait = self
                    .quiet
                    .saturating_sub(quiet_for)
                    .max(Duration::from_micros(20));
                self.changed
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            } else {
                self.changed.wait(state).unwrap_or_else(|e| e.into_inner())
            };
        }
    }

    fn arithmetic(&self) -> Arithmetic {
        self.inner.arithmetic()
    }
}

/// Runs `work` on a pool of `threads` threads with `den` behind a [`Gathered`] denoiser, so
/// that the concurrent calls of the work's parallel starts reach `den` as one call per
/// iteration; returns what `work` returns and the calls and rows `den` saw.
///
/// ```
/// use memscape::analysis::landscape::fixed::{FixedPointConfig, fixed_points};
/// use memscape::denoiser::gather::gathered;
/// use memscape::denoiser::EmpiricalDenoiser;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let patterns = ndarray::array![[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]];
/// let exact = EmpiricalDenoiser::<f64>::new(patterns.view())?;
/// let calls = AtomicUsize::new(0);
/// let counted = |x: ndarray::ArrayView2<f64>, s: f64| {
///     calls.fetch_add(1, Ordering::Relaxed);
///     memscape::denoiser::Denoiser::denoise(&exact, x, s)
/// };
/// let starts = memscape::rng::normal_matrix(64, 2, 1);
/// let config = FixedPointConfig { eigenvalues: 2, ..FixedPointConfig::for_scale(1.0, memscape::denoiser::Arithmetic::F64) };
/// let alone = fixed_points(&counted, 0.3, starts.view(), &config)?;
/// let one_by_one = calls.swap(0, Ordering::Relaxed);
/// let (together, stats) = gathered(&counted, 64, |den| fixed_points(den, 0.3, starts.view(), &config))?;
/// let together = together?;
/// // the same fixed points, from far fewer calls
/// assert_eq!(alone.points.len(), together.points.len());
/// for (a, b) in alone.points.iter().zip(&together.points) {
///     assert_eq!(a.x, b.x);
/// }
/// assert_eq!(stats.calls, calls.load(Ordering::Relaxed));
/// assert!(stats.calls * 10 < one_by_one, "{stats:?} against {one_by_one}");
/// # Ok::<(), memscape::Error>(())
/// ```
///
/// # Errors
/// A pool that cannot be started.
pub fn gathered<D, T>(
    den: &D,
    threads: usize,
    work: impl FnOnce(&Gathered<'_, D>) -> T + Send,
) -> Result<(T, GatherStats)>
where
    D: Denoiser + ?Sized,
    T: Send,
{
    let gathered = Gathered::new(den, threads, QUIET);
    let out = in_pool(threads, || work(&gathered))?;
    Ok((out, gathered.stats()))
}

/// Runs `work` on a pool of `threads` threads: its parallel starts each get a thread, so that
/// [`Gathered`] denoisers see all their calls at once.
///
/// # Errors
/// A pool that cannot be started.
pub fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> Result<T> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .stack_size(8 << 20)
        .build()
        .map_err(|e| Error::invalid("threads", "a pool that starts", e))?;
    Ok(pool.install(work))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::denoiser::EmpiricalDenoiser;

    /// A model that fails while many threads wait on it: the failure reaches every caller (no
    /// waiter is left hanging), and a batch of each noise level goes separately.
    #[test]
    fn a_failing_model_fails_every_waiting_call_and_levels_are_sent_apart() {
        let patterns = ndarray::array![[0.0, 0.0], [3.0, 0.0]];
        let exact = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let calls = AtomicUsize::new(0);
        let failing = |x: ArrayView2<f64>, s: f64| {
            if calls.fetch_add(1, Ordering::SeqCst) == 2 {
                panic!("the model fell over");
            }
            exact.denoise(x, s)
        };
        let gathered = Gathered::new(&failing, 8, QUIET);
        let x = ndarray::array![[0.5, 0.1]];
        let ended: Vec<bool> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        for _ in 0..20 {
                            gathered.denoise(x.view(), 0.3);
                        }
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().is_err()).collect()
        });
        // the third batch fails: every thread that was waiting on it, and every later call, fails
        assert!(ended.iter().all(|&failed| failed), "{ended:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // two noise levels asked at once: one call each, every row back where it belongs
        let both = Gathered::new(&exact, 2, QUIET);
        let y = ndarray::array![[0.5, 0.1], [2.5, 0.0]];
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| both.denoise(y.view(), 0.3));
            let b = scope.spawn(|| both.denoise(y.view(), 1.0));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(a, exact.denoise(y.view(), 0.3));
        assert_eq!(b, exact.denoise(y.view(), 1.0));
        assert_eq!((both.stats().calls, both.stats().requests), (2, 2));
    }
}
