//! A mutation fuzzer for every reader of user files, on stable Rust: valid files are mutated
//! (bit flips, interesting bytes, truncation, deletions, duplications, splices between valid
//! files, huge lengths and counts in binary headers, huge or odd numbers in text) and read back.
//! A reader may accept or refuse an input, but must not panic, take over 1 s, or allocate
//! more than 1 GiB; a refusal is one line that names the file.
//!
//! Formats: `.npy`, `.npz`, CSV, the MNIST folder (IDX images and labels), CIFAR-10 batches,
//! safetensors checkpoints with their metadata, the sweep spec, the sweep store, and a run's
//! `results.json` as `memscape report` reads it.
//!
//! `MEMSCAPE_FUZZ_ITERS` sets the inputs per format (10,000 by default, the CI budget; 10⁶ by
//! hand), `MEMSCAPE_FUZZ_SEED` the mutation seed. A failing input is saved under
//! `target/tmp/fuzz-failures/` and named in the failure, and each format's counts in
//! `target/tmp/fuzz-summary/` (CI prints them) (an input that aborts the process is
//! left there as `FORMAT-last.bin`); each fix gets a regression test below, named after what it
//! guards.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ndarray::{Array2, Array3, Array4};
use ndarray_npy::{NpzWriter, WriteNpyExt};

// ---------------------------------------------------------------------------------------------
// Memory: a global allocator that refuses (and records) any allocation that would take the
// process past ONE_GIB live.

const ONE_GIB: usize = 1 << 30;

struct Bounded;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// How many requests were refused (tests compare it before and after each input), and the
/// largest.
static REFUSALS: AtomicUsize = AtomicUsize::new(0);
static LARGEST_REFUSED: AtomicUsize = AtomicUsize::new(0);

impl Bounded {
    fn reserve(size: usize) -> bool {
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        if live > ONE_GIB {
            LIVE.fetch_sub(size, Ordering::Relaxed);
            LARGEST_REFUSED.fetch_max(size, Ordering::Relaxed);
            REFUSALS.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        PEAK.fetch_max(live, Ordering::Relaxed);
        true
    }
}

// SAFETY: every call forwards to the system allocator with the caller's layout; the counters
// only decide whether to forward.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() && !Self::reserve(new_size - layout.size()) {
            return std::ptr::null_mut();
        }
        let out = unsafe { System.realloc(ptr, layout, new_size) };
        if out.is_null() {
            if new_size > layout.size() {
                LIVE.fetch_sub(new_size - layout.size(), Ordering::Relaxed);
            }
        } else if new_size < layout.size() {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        out
    }
}

#[global_allocator]
static ALLOCATOR: Bounded = Bounded;

// ---------------------------------------------------------------------------------------------
// Mutation.

/// SplitMix64: a seeded stream, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n ≥ 1).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const INTERESTING_BYTES: &[u8] = b"\x00\x01\x7f\x80\xff09-.e\",\n[]{}:=x'";
const HUGE_INTEGERS: &[u64] = &[
    u64::MAX,
    u32::MAX as u64,
    0x7fff_ffff,
    0x8000_0000,
    1 << 40,
    1 << 62,
    0xffff,
    0,
];
const ODD_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "4294967296",
    "18446744073709551616",
    "99999999999999999999999",
    "1e308",
    "-1e308",
    "1e-320",
    "NaN",
    "inf",
    "-0",
    "9007199254740993",
    "340282366920938463463374607431768211456",
];
/// Inputs grow to at most this many bytes.
const MAX_INPUT: usize = 1 << 20;

/// One mutation of `data`; `others` are the valid files of the same slot, for splices.
fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) {
    let len = data.len();
    let at = rng.below(len + 1);
    match rng.below(10) {
        0 if len > 0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = *rng.pick(INTERESTING_BYTES);
        }
        2 => data.truncate(at),
        3 if at < len => {
            let end = (at + 1 + rng.below(64)).min(len);
            data.drain(at..end);
        }
        4 if at < len => {
            let end = (at + 1 + rng.below(256)).min(len);
            let chunk = data[at..end].to_vec();
            let to = rng.below(data.len() + 1);
            data.splice(to..to, chunk);
        }
        5 => {
            let other = rng.pick(others);
            if !other.is_empty() {
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(512)).min(other.len());
                let chunk = other[from..end].to_vec();
                if rng.below(2) == 0 {
                    let stop = (at + chunk.len()).min(len);
                    data.splice(at..stop, chunk);
                } else {
                    data.splice(at..at, chunk);
                }
            }
        }
        6 if len >= 8 => {
            // a huge length, count or offset in a binary header (either byte order)
            let v = *rng.pick(HUGE_INTEGERS);
            let width = *rng.pick(&[2usize, 4, 8]);
            let i = rng.below(len - width + 1);
            let bytes = if rng.below(2) == 0 {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            let bytes = if width == 8 {
                bytes.to_vec()
            } else if bytes[0] == (v as u8) {
                bytes[..width].to_vec() // little-endian low bytes
            } else {
                bytes[8 - width..].to_vec() // big-endian low bytes
            };
            data[i..i + width].copy_from_slice(&bytes);
        }
        7 => {
            // a number in text replaced by a huge or odd one
            let digits: Vec<usize> = (0..len).filter(|&i| data[i].is_ascii_digit()).collect();
            if !digits.is_empty() {
                let start = *rng.pick(&digits);
                let mut end = start;
                while end < len && (data[end].is_ascii_digit() || data[end] == b'.') {
                    end += 1;
                }
                let mut begin = start;
                while begin > 0 && data[begin - 1].is_ascii_digit() {
                    begin -= 1;
                }
                let with = rng.pick(ODD_NUMBERS).as_bytes().to_vec();
                data.splice(begin..end, with);
            }
        }
        8 => {
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(at..at, bytes);
        }
        _ if len > 0 => {
            // a chunk repeated many times
            let from = rng.below(len);
            let end = (from + 1 + rng.below(32)).min(len);
            let chunk = data[from..end].to_vec();
            let times = 1 + rng.below(2000);
            let grown: Vec<u8> = chunk
                .iter()
                .copied()
                .cycle()
                .take(chunk.len() * times)
                .collect();
            data.splice(at..at, grown);
        }
        _ => data.push(rng.next() as u8),
    }
    data.truncate(MAX_INPUT);
}

// ---------------------------------------------------------------------------------------------
// The driver.

/// A file format: valid files in slots (several files of one input, e.g. images and labels),
/// and a reader of one mutated file in its slot.
struct Format {
    name: &'static str,
    /// (slot, valid bytes)
    seeds: Vec<(usize, Vec<u8>)>,
    /// Reads `bytes` as the file of `slot`; Ok when accepted, Err(message) when refused, and
    /// the path of the file it wrote (the message must name it).
    read: Box<Reader>,
}

/// Reads a slot's mutated bytes: (accepted, or the refusal's message; the file it must name).
type Reader = dyn FnMut(usize, &[u8]) -> (Result<(), String>, String);

/// What a format's run found.
#[derive(Default)]
struct Findings {
    accepted: usize,
    refused: usize,
    slowest: Duration,
    /// The most memory one input took (live bytes above those before it; other tests of
    /// this binary running meanwhile add theirs), and where that input was saved.
    peak: usize,
    peak_input: String,
    failures: Vec<String>,
}

fn iterations() -> usize {
    std::env::var("MEMSCAPE_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn seed() -> u64 {
    std::env::var("MEMSCAPE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6d65_6d73_6361_7065)
}

fn failure_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures")
}

/// The input each format is reading, for the watchdog: format → (start, iteration). The
/// input itself is in `FORMAT-last.bin`.
static IN_PROGRESS: Mutex<std::collections::BTreeMap<&'static str, (Instant, usize)>> =
    Mutex::new(std::collections::BTreeMap::new());

/// Ends the process, naming the input, when one input runs over 20 s (a hang that the
/// per-input 1 s check cannot wait out).
fn start_watchdog() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let progress = IN_PROGRESS.lock().unwrap_or_else(|e| e.into_inner());
                for (name, (start, i)) in progress.iter() {
                    if start.elapsed() > Duration::from_secs(20) {
                        eprintln!(
                            "fuzz {name}: input {i} hangs (over 20 s); it is {}",
                            failure_dir().join(format!("{name}-last.bin")).display()
                        );
                        std::process::exit(101);
                    }
                }
            }
        });
    });
}

fn save_failure(name: &str, i: usize, bytes: &[u8]) -> String {
    let dir = failure_dir();
    let _ = std::fs::create_dir_all(&dir);
    let path = if i == usize::MAX {
        dir.join(format!("{name}-peak.bin"))
    } else {
        dir.join(format!("{name}-{i}.bin"))
    };
    let _ = std::fs::write(&path, bytes);
    path.display().to_string()
}

/// Runs `iters` mutated inputs of `format`.
fn fuzz(mut format: Format, iters: usize) -> Findings {
    start_watchdog();
    let mut rng = Rng(seed() ^ format.name.len() as u64 ^ (format.name.as_bytes()[0] as u64) << 32);
    let mut found = Findings::default();
    // every valid file reads
    for (slot, bytes) in &format.seeds {
        let (r, _) = (format.read)(*slot, bytes);
        if let Err(e) = r {
            found
                .failures
                .push(format!("the valid seed of slot {slot} is refused: {e}"));
        }
    }
    std::fs::create_dir_all(failure_dir()).unwrap();
    let last = failure_dir().join(format!("{}-last.bin", format.name));
    for i in 0..iters {
        let (slot, seed_bytes) = format.seeds[rng.below(format.seeds.len())].clone();
        let others: Vec<Vec<u8>> = format
            .seeds
            .iter()
            .filter(|(s, _)| *s == slot)
            .map(|(_, b)| b.clone())
            .collect();
        let mut input = seed_bytes;
        for _ in 0..1 + rng.below(4) {
            mutate_once(&mut rng, &mut input, &others);
        }
        // an input that aborts the process (an allocation past the bound that cannot fail
        // gracefully) is left here
        std::fs::write(&last, &input).unwrap();
        let refusals = REFUSALS.load(Ordering::Relaxed);
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let clock = Instant::now();
        IN_PROGRESS
            .lock()
            .unwrap()
            .insert(format.name, (Instant::now(), i));
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (format.read)(slot, &input)));
        IN_PROGRESS.lock().unwrap().remove(format.name);
        let took = clock.elapsed();
        found.slowest = found.slowest.max(took);
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        if peak > found.peak {
            found.peak = peak;
            found.peak_input = save_failure(format.name, usize::MAX, &input);
        }
        let mut fail = |what: String| {
            if found.failures.len() < 20 {
                let path = save_failure(format.name, i, &input);
                found
                    .failures
                    .push(format!("input {i} (slot {slot}, {path}): {what}"));
            }
        };
        match outcome {
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                fail(format!("panicked: {message}"));
            }
            Ok((Ok(()), _)) => found.accepted += 1,
            Ok((Err(message), file)) => {
                found.refused += 1;
                if message.contains('\n') || !message.contains(&file) {
                    fail(format!(
                        "the refusal is not one line naming {file}: {message:?}"
                    ));
                }
            }
        }
        if took > Duration::from_secs(1) {
            fail(format!("took {took:?}"));
        }
        if REFUSALS.load(Ordering::Relaxed) > refusals {
            fail(format!(
                "an allocation past the 1 GiB bound was refused (the largest asked for {} bytes)",
                LARGEST_REFUSED.load(Ordering::Relaxed)
            ));
        }
    }
    let _ = std::fs::remove_file(&last);
    found
}

/// Fuzzes `format` and fails on any finding, printing the counts.
fn check(format: Format) {
    let name = format.name;
    let iters = iterations();
    let clock = Instant::now();
    let found = fuzz(format, iters);
    let line = format!(
        "fuzz {name}: {iters} inputs in {:.1} s: {} accepted, {} refused, slowest {:.1} ms, at most {:.1} MB for one input ({}), {} findings",
        clock.elapsed().as_secs_f64(),
        found.accepted,
        found.refused,
        found.slowest.as_secs_f64() * 1e3,
        found.peak as f64 / 1e6,
        found.peak_input,
        found.failures.len(),
    );
    println!("{line}");
    // the counts, for CI's log (libtest keeps a passing test's output to itself)
    let summary = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-summary");
    std::fs::create_dir_all(&summary).unwrap();
    std::fs::write(summary.join(format!("{name}.txt")), format!("{line}\n")).unwrap();
    assert!(
        found.failures.is_empty(),
        "fuzz {name}: {} findings:\n{}",
        found.failures.len(),
        found.failures.join("\n")
    );
}

/// A temporary folder that lives as long as the format's reader.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

fn npy_bytes<A: WriteNpyExt>(a: &A) -> Vec<u8> {
    let mut out = vec![];
    a.write_npy(&mut out).unwrap();
    out
}

/// A reader of single files named `name` in a scratch folder.
fn file_format(
    name: &'static str,
    file: &'static str,
    seeds: Vec<Vec<u8>>,
    read: impl Fn(&Path) -> Result<(), String> + 'static,
) -> Format {
    let dir = scratch();
    Format {
        name,
        seeds: seeds.into_iter().map(|s| (0, s)).collect(),
        read: Box::new(move |_, bytes| {
            let path = dir.path().join(file);
            std::fs::write(&path, bytes).unwrap();
            (read(&path), file.to_string())
        }),
    }
}

fn points(path: &Path) -> Result<(), String> {
    memscape::dataset::files::read_images(path, None)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// The formats.

#[test]
fn fuzz_npy() {
    let a = Array2::from_shape_fn((3, 2), |(i, j)| i as f64 - 0.5 * j as f64);
    let seeds = vec![
        npy_bytes(&a),
        npy_bytes(&a.t().to_owned().reversed_axes()), // Fortran order
        npy_bytes(&Array3::from_shape_fn((2, 3, 3), |(i, j, k)| {
            (i + j * k) as f32
        })),
        npy_bytes(&Array4::from_shape_fn((2, 1, 2, 2), |(i, _, j, k)| {
            (i + j + k) as u8
        })),
        npy_bytes(&Array2::from_shape_fn((2, 2), |(i, j)| (i * 7 + j) as i64)),
        npy_bytes(&Array2::from_shape_fn((2, 3), |(i, j)| (i + j) as i32)),
    ];
    check(file_format("npy", "f.npy", seeds, points));
}

#[test]
fn fuzz_npz() {
    let npz = |compressed: bool, arrays: &[(&str, Array2<f64>)]| {
        let mut out = std::io::Cursor::new(vec![]);
        {
            let mut w = if compressed {
                NpzWriter::new_compressed(&mut out)
            } else {
                NpzWriter::new(&mut out)
            };
            for (name, a) in arrays {
                w.add_array(*name, a).unwrap();
            }
            w.finish().unwrap();
        }
        out.into_inner()
    };
    let a = Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f64);
    let b = Array2::from_shape_fn((2, 4), |(i, j)| (i + j) as f64 * 0.25);
    let seeds = vec![
        npz(false, &[("x", a.clone())]),
        npz(true, &[("x", a.clone())]),
        npz(false, &[("a", a.clone()), ("b", b.clone())]),
        npz(true, &[("a", a), ("b", b)]),
    ];
    let dir = scratch();
    check(Format {
        name: "npz",
        seeds: seeds.into_iter().map(|s| (0, s)).collect(),
        read: Box::new(move |_, bytes| {
            let path = dir.path().join("f.npz");
            std::fs::write(&path, bytes).unwrap();
            // the only array, or the one named "b"
            let only = memscape::dataset::files::read_images(&path, None);
            let named = memscape::dataset::files::read_images(&path, Some("b"));
            let r = match (only, named) {
                (Ok(_), _) | (_, Ok(_)) => Ok(()),
                (Err(e), _) => Err(e.to_string()),
            };
            (r, "f.npz".into())
        }),
    });
}

#[test]
fn fuzz_csv() {
    let seeds = [
        "x,y\n1,2\n3.5,-4\n",
        "0.1, 0.2, 0.3\n1e-3, 2E4, -0\n",
        "1,2,3\n",
        "\"x\",\"y\"\n\"1\",\"2\"\n\n5,6\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    check(file_format("csv", "f.csv", seeds, points));
}

/// IDX headers: magic, count, (rows, cols), then the bytes.
fn idx_images(n: usize, rows: usize, cols: usize) -> Vec<u8> {
    let mut out = vec![];
    for v in [2051u32, n as u32, rows as u32, cols as u32] {
        out.extend(v.to_be_bytes());
    }
    out.extend((0..n * rows * cols).map(|i| (i * 37 % 256) as u8));
    out
}

fn idx_labels(n: usize) -> Vec<u8> {
    let mut out = vec![];
    for v in [2049u32, n as u32] {
        out.extend(v.to_be_bytes());
    }
    out.extend((0..n).map(|i| (i % 10) as u8));
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The MNIST folder: slot 0 the images file, slot 1 the labels (plain or gzipped); the other
/// file of the pair stays valid.
#[test]
fn fuzz_mnist_folder() {
    let (images, labels) = (idx_images(3, 4, 4), idx_labels(3));
    let seeds = vec![
        (0, images.clone()),
        (0, gzip(&images)),
        (1, labels.clone()),
        (1, gzip(&labels)),
    ];
    let dir = scratch();
    check(Format {
        name: "mnist",
        seeds,
        read: Box::new(move |slot, bytes| {
            let d = dir.path();
            for f in std::fs::read_dir(d).unwrap() {
                std::fs::remove_file(f.unwrap().path()).unwrap();
            }
            let gz = bytes.starts_with(&[0x1f, 0x8b]);
            let (img, lab) = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte");
            let (name, other, valid) = if slot == 0 {
                (img, lab, idx_labels(3))
            } else {
                (lab, img, idx_images(3, 4, 4))
            };
            let file = if gz {
                format!("{name}.gz")
            } else {
                name.to_string()
            };
            std::fs::write(d.join(&file), bytes).unwrap();
            std::fs::write(d.join(other), valid).unwrap();
            let r = memscape::dataset::images::load_idx_dir(
                d,
                "train",
                2,
                memscape::dataset::PixelRange::Signed,
            );
            (r.map(|_| ()).map_err(|e| e.to_string()), name.to_string())
        }),
    });
}

/// CIFAR-10: slot b mutates `data_batch_{b+1}.bin`; the others stay valid (two images each).
#[test]
fn fuzz_cifar10() {
    let batch = |b: usize| -> Vec<u8> {
        (0..2)
            .flat_map(|i| {
                std::iter::once(((b + i) % 10) as u8)
                    .chain((0..3 * 32 * 32).map(move |p| ((p * 13 + i + b) % 256) as u8))
            })
            .collect()
    };
    let seeds = (0..5).map(|b| (b, batch(b))).collect();
    let dir = scratch();
    for b in 0..5 {
        std::fs::write(
            dir.path().join(format!("data_batch_{}.bin", b + 1)),
            batch(b),
        )
        .unwrap();
    }
    check(Format {
        name: "cifar10",
        seeds,
        read: Box::new(move |slot, bytes| {
            let name = format!("data_batch_{}.bin", slot + 1);
            let path = dir.path().join(&name);
            std::fs::write(&path, bytes).unwrap();
            let r = memscape::dataset::images::load_cifar10(
                dir.path(),
                "train",
                2,
                memscape::dataset::PixelRange::Signed,
            );
            std::fs::write(&path, batch(slot)).unwrap();
            // an error names the batch file, or the folder for the whole set
            let named = match &r {
                Err(e) if e.to_string().contains(&name) => name.clone(),
                _ => dir.path().display().to_string(),
            };
            (r.map(|_| ()).map_err(|e| e.to_string()), named)
        }),
    });
}

/// A checkpoint's bytes: an MLP (slot 0) or a small U-Net (slot 1) with fresh parameters.
fn checkpoint(unet: bool) -> Vec<u8> {
    let model = small_model(unet);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model
        .save(
            &path,
            &model.meta(7, false, serde_json::json!({"lr": 1e-3})),
        )
        .unwrap();
    std::fs::read(path).unwrap()
}

/// An MLP on 2-D points, or a U-Net on 4×4 images, with fresh parameters.
fn small_model(unet: bool) -> memscape_train::ScoreModel {
    use memscape_train::mlp::{Mlp, MlpConfig};
    use memscape_train::precondition::{Parametrization, Preconditioning};
    use memscape_train::unet::{Unet, UnetConfig};
    use memscape_train::{Network, ScoreModel};
    let network = if unet {
        let config = UnetConfig {
            base: 8,
            mults: vec![1, 2],
            ..UnetConfig::small(1, 4, 4)
        };
        Network::Unet(Box::new(Unet::new(config).unwrap()))
    } else {
        let config = MlpConfig {
            dim: 2,
            width: 6,
            depth: 2,
            fourier_features: 3,
            fourier_scale: 1.0,
        };
        Network::Mlp(Mlp::new(config, 3).unwrap())
    };
    let params = match &network {
        Network::Mlp(m) => m.init_parameters(1),
        Network::Unet(u) => u.init_parameters(1),
    };
    ScoreModel {
        network,
        params,
        preconditioning: Preconditioning {
            sigma_data: 0.5,
            parametrization: Parametrization::Epsilon,
        },
    }
}

#[test]
fn fuzz_safetensors() {
    let seeds = vec![checkpoint(false), checkpoint(true)];
    check(file_format("safetensors", "m.safetensors", seeds, |path| {
        memscape_train::ScoreModel::load(path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }));
}

#[test]
fn fuzz_sweep_spec() {
    let seeds = vec![
        "[axes]\ndata = [\"circle:n=300\"]\nk = [2, 9]\nseed = [0, 1]\n[map]\nn_samples = 100\nsteps = 20\nresamples = 20\n",
        "[axes]\ndata = [\"gmm:d=3,n=200\", \"kgon:k=12\"]\nk = [2, 4]\nmodel = [\"mlp\"]\ntrain_steps = [50]\nintervention = [\"none\", \"wide\"]\n[map]\nn_samples = 50\ndelta_m = 0.1\n[train]\nwidth = 8\ndepth = 2\nlr = 1e-3\n[interventions.wide]\nwidth = 16\n",
        "study = \"dynamics\"\n[axes]\ndata = [\"circle:n=200\"]\nk = [2, 4]\nmodel = [\"mlp\"]\ntrain_steps = [40]\n[dynamics]\ncheckpoints = 4\nattractors = true\n[train]\nwidth = 8\n",
    ]
    .into_iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    check(file_format("spec", "spec.toml", seeds, |path| {
        memscape_sweep::spec::Spec::read(path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }));
}

/// The sweep store: the golden schema-1 store (slot 0) and a schema-2 store with done,
/// failed and submitted cells (slot 1), each opened (and migrated), listed and read.
#[test]
fn fuzz_sweep_store() {
    use memscape_sweep::spec::Spec;
    use memscape_sweep::store::{LEASE_S, Outcome, Store};
    let golden = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sweep-v1/sweep.db"),
    )
    .unwrap();
    let fresh = {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.db");
        let spec = Spec::parse(
            Path::new("s.toml"),
            "[axes]\ndata = [\"circle:n=200\"]\nk = [2, 3, 4]\n[map]\nn_samples = 10\n".into(),
        )
        .unwrap();
        {
            let store = Store::open_task(&path).unwrap();
            let [a, b, c] = [&spec.cells[0], &spec.cells[1], &spec.cells[2]];
            for cell in [a, b, c] {
                assert!(store.claim(cell, "host:1", LEASE_S).unwrap());
            }
            let done = Outcome::Done {
                results: "{\"k\": 2}".into(),
                files: vec!["cells/x/point.json".into()],
                seconds: 0.5,
            };
            store.finish(&a.id, "host:1", &done).unwrap();
            let failed = Outcome::Failed {
                error: "boom".into(),
                seconds: 0.1,
            };
            store.finish(&b.id, "host:1", &failed).unwrap();
            store
                .record_submission("77", &[vec![c.id.clone()]])
                .unwrap();
        }
        std::fs::read(&path).unwrap()
    };
    // SQLite allocates with its own allocator, out of the bound above: give it the same bound
    // (process-wide), so that a store that makes it ask for more fails as SQLITE_NOMEM
    rusqlite::Connection::open_in_memory()
        .unwrap()
        .query_row("PRAGMA hard_heap_limit = 1073741824", [], |_| Ok(()))
        .unwrap();
    let dir = scratch();
    check(Format {
        name: "store",
        seeds: vec![(0, golden), (1, fresh)],
        read: Box::new(move |_, bytes| {
            let path = dir.path().join("sweep.db");
            for suffix in ["-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(dir.path().join(format!("sweep.db{suffix}")));
            }
            std::fs::write(&path, bytes).unwrap();
            let read = || -> Result<(), String> {
                let store = Store::open_task(&path).map_err(|e| e.to_string())?;
                let records = store.records().map_err(|e| e.to_string())?;
                for id in records.keys() {
                    store.result(id).map_err(|e| e.to_string())?;
                }
                store.submitted().map_err(|e| e.to_string())?;
                Ok(())
            };
            (read(), "sweep.db".into())
        }),
    });
}

/// A run's `results.json` as `memscape report` reads it: a map run (slot 0) and a dynamics run
/// (slot 1), written once by the binary; the report's page is built from each mutated file.
#[test]
fn fuzz_results_json() {
    let runs = tempfile::tempdir().unwrap();
    let map = runs.path().join("map");
    let dynamics = runs.path().join("dynamics");
    let made = [
        common::memscape(&[
            "map",
            "--data",
            "circle:n=300",
            "--k",
            "2,9",
            "--n-samples",
            "60",
            "--steps",
            "15",
            "--train-steps",
            "60",
            "--resamples",
            "20",
            "--out",
            map.to_str().unwrap(),
        ]),
        common::memscape(&[
            "dynamics",
            "--data",
            "circle:n=300",
            "--holdout",
            "100",
            "--k",
            "2,4",
            "--steps",
            "40",
            "--sample-steps",
            "15",
            "--checkpoints",
            "3",
            "--seeds",
            "2",
            "--n-samples",
            "40",
            "--out",
            dynamics.to_str().unwrap(),
        ]),
    ];
    for m in &made {
        assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    }
    let dirs = [map, dynamics];
    // timings zeroed, so that the seeds, and the inputs made from them, are the same each run
    fn steady(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "seconds" || k.ends_with("_s") {
                        *x = serde_json::json!(0.0);
                    } else {
                        steady(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(steady),
            _ => {}
        }
    }
    let seeds = dirs
        .iter()
        .enumerate()
        .map(|(slot, d)| {
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("results.json")).unwrap()).unwrap();
            steady(&mut v);
            (slot, serde_json::to_vec_pretty(&v).unwrap())
        })
        .collect();
    check(Format {
        name: "results.json",
        seeds,
        read: Box::new(move |slot, bytes| {
            std::fs::write(dirs[slot].join("results.json"), bytes).unwrap();
            // the report never refuses a run: a results.json that does not parse is drawn
            // around and listed among the page's problems, and that line is the refusal
            let r = memscape_report::report(&dirs[slot]).map_err(|e| e.to_string());
            let r = match r {
                Ok(page) if serde_json::from_slice::<serde_json::Value>(bytes).is_err() => {
                    match page.problems.iter().find(|p| p.contains("results.json")) {
                        Some(p) => Err(p.clone()),
                        None => Err(format!("no problem names it: {:?}", page.problems)),
                    }
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            (r, "results.json".into())
        }),
    });
}

// ---------------------------------------------------------------------------------------------
// What the fuzzer found, each fix with the case it guards.

mod regressions {
    use super::*;

    fn npy_with_header(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    fn read_npy(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        std::fs::write(&path, bytes).unwrap();
        memscape::dataset::files::read_points(&path, None)
            .unwrap_err()
            .to_string()
    }

    /// ndarray-npy draws a header's syntax error over five lines; memscape says it in one.
    #[test]
    fn a_npy_header_syntax_error_is_one_line() {
        let bytes = npy_with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)} x",
            &[0; 48],
        );
        let e = read_npy(&bytes);
        assert!(!e.contains('\n'), "{e}");
        assert!(
            e.contains("a.npy") && e.contains("does not parse at character"),
            "{e}"
        );
    }

    /// A header whose shape needs 8 GB, on 16 bytes of data, is refused before ndarray-npy
    /// allocates the shape (it did: 662 MB for one fuzzed input; this one aborted).
    #[test]
    fn a_npy_shape_larger_than_the_file_is_refused_before_allocating() {
        let bytes = npy_with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1), }",
            &[0; 16],
        );
        let e = read_npy(&bytes);
        assert!(
            e.contains("shape [1000000000, 1]") && e.contains("16 bytes of data follow"),
            "{e}"
        );
        let past = {
            let mut b = npy_with_header(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }",
                &[0; 16],
            );
            b[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
            b
        };
        assert!(read_npy(&past).contains("does not fit in the file"));
    }

    /// An `.npz` entry whose header claims 8 GB on 16 bytes of data is refused by the same
    /// check as a `.npy` (ndarray-npy's npz reader allocated the shape's size first).
    #[test]
    fn an_npz_entry_larger_than_its_data_is_refused_before_allocating() {
        use std::io::Write;
        let npy = npy_with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1), }",
            &[0; 16],
        );
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(vec![]));
        zip.start_file("x.npy", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&npy).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        std::fs::write(&path, bytes).unwrap();
        let e = memscape::dataset::files::read_points(&path, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.npz")
                && e.contains("array \"x\"")
                && e.contains("16 bytes of data follow"),
            "{e}"
        );
    }

    /// SQLite quotes a malformed schema over many lines; the store's error is one line.
    #[test]
    fn a_store_with_a_malformed_schema_is_refused_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 PRAGMA writable_schema = ON;
                 UPDATE sqlite_master SET sql = 'CREATE TABLE meta (key \"TEXT,\n value TEXT)'
                     WHERE name = 'meta';",
            )
            .unwrap();
        }
        let e = memscape_sweep::store::Store::open(&path)
            .err()
            .expect("refused")
            .to_string();
        assert!(!e.contains('\n') && e.contains("sweep.db"), "{e}");
    }

    fn spec_error(text: &str) -> String {
        memscape_sweep::spec::Spec::parse(Path::new("s.toml"), text.into())
            .expect_err("refused")
            .to_string()
    }

    /// `circle:n=99999999999999999` made a spec allocate 1.4·10¹⁷ bytes (abort); a generated
    /// pool is now bounded.
    #[test]
    fn a_spec_asking_for_a_huge_generated_pool_is_refused() {
        let e = spec_error("[axes]\ndata = [\"circle:n=99999999999999999\"]\nk = [2]\n");
        assert!(
            e.contains("axes.data") && e.contains("at most 1e8 values"),
            "{e}"
        );
        let e = spec_error("[axes]\ndata = [\"gmm:d=4294967296,n=4294967296\"]\nk = [2]\n");
        assert!(e.contains("more than 2^64"), "{e}");
    }

    /// `checkpoints = 9007199254740993` made a dynamics spec allocate a step per checkpoint
    /// (abort); checkpoints are now bounded (and at most the training steps).
    #[test]
    fn a_spec_with_absurd_checkpoints_is_refused() {
        let e = spec_error(
            "study = \"dynamics\"\n[axes]\ndata = [\"circle:n=200\"]\nk = [2]\nmodel = [\"mlp\"]\ntrain_steps = [40]\n[dynamics]\ncheckpoints = 9007199254740993\n",
        );
        assert!(
            e.contains("checkpoints must be at most 10000") && e.contains("9007199254740993"),
            "{e}"
        );
    }

    /// A checkpoint whose metadata describes a far larger network than its tensors (a width
    /// of 2³², a U-Net base of 2³¹) is refused before the network is built: building it
    /// overflowed or allocated the described size.
    #[test]
    fn a_checkpoint_describing_a_huge_network_is_refused_before_building_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let load = |model: &memscape_train::ScoreModel, meta| {
            model.save(&path, &meta).unwrap();
            memscape_train::ScoreModel::load(&path)
                .expect_err("refused")
                .to_string()
        };
        let mlp = small_model(false);
        let mut meta = mlp.meta(1, false, serde_json::json!({}));
        meta.mlp.as_mut().unwrap().width = 1 << 32;
        let e = load(&mlp, meta);
        assert!(
            e.contains("larger than the") && e.contains("mlp width = 4294967296"),
            "{e}"
        );
        let unet = small_model(true);
        let mut meta = unet.meta(1, false, serde_json::json!({}));
        meta.unet.as_mut().unwrap().base = 1 << 31;
        let e = load(&unet, meta);
        assert!(e.contains("larger than the") && e.contains("unet"), "{e}");
    }

    /// A tensor whose shape's product overflows (2³² × 2³²) is refused, not a panic.
    #[test]
    fn a_safetensors_shape_that_overflows_is_refused() {
        let header =
            br#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header);
        bytes.extend([0; 4]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        std::fs::write(&path, bytes).unwrap();
        let e = memscape_train::safetensors::read(&path)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.safetensors") && e.contains("byte ranges") && e.contains("overflow"),
            "{e}"
        );
    }

    /// A dynamics `results.json` whose `fit` (or `exponent_gap`) lacks a key panicked the
    /// report (a serde_json Map indexed by a missing key); the page is drawn with "—".
    #[test]
    fn a_results_fit_without_its_keys_is_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("manifest.json"),
            r#"{"command": ["memscape", "dynamics"], "files": ["results.json"]}"#,
        )
        .unwrap();
        std::fs::write(
            d.join("results.json"),
            r#"{"tau_mem": [{"k": 2, "step": 10}], "fit": {"a": 1}, "exponent_gap": {"gap": 0.1}, "tau_spur": []}"#,
        )
        .unwrap();
        let r = memscape_report::report(d).unwrap();
        assert!(r.html.contains("<b>p = —</b>"), "{}", r.html);
        assert!(
            memscape_report::run_figures(d).is_err(),
            "no phase table to draw"
        );
    }

    /// `FILE,image=HxW` with H·W past usize overflowed at load; it is refused at parse.
    #[test]
    fn an_image_shape_that_overflows_is_refused() {
        let e = memscape::dataset::DataSpec::parse("x.npy,image=4294967296x4294967297")
            .unwrap_err()
            .to_string();
        assert!(e.contains("image must be HxW"), "{e}");
    }
}
