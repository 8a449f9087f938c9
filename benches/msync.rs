//! `cargo bench --bench msync`: what `msync(MS_SYNC)` of N dirty 4 KiB pages of a `MAP_SHARED`
//! file mapping costs, N = 1, 64, 1024, in a file in the system temp dir (its filesystem is
//! printed: on tmpfs a flush costs almost nothing).
//!
//! As in the `msync` scenario, the file is written (not sparse) and synced first, and before
//! each timed flush one byte of every page is changed; that re-dirtying is not timed.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use memmap2::MmapMut;
use std::time::{Duration, Instant};

const PAGE: usize = 4096;
const PAGES: [usize; 3] = [1, 64, 1024];

/// A temp file of `pages` pages, mapped shared; removed on drop.
struct Target {
    map: MmapMut,
    _file: tempfile::NamedTempFile,
    round: u8,
}

impl Target {
    fn create(pages: usize) -> Target {
        let file = tempfile::Builder::new()
            .prefix("ipcbench-msync-")
            .tempfile()
            .expect("a file in the system temp dir");
        std::io::Write::write_all(&mut file.as_file(), &vec![1u8; pages * PAGE]).expect("write");
        file.as_file().sync_all().expect("fsync of the new file");
        // SAFETY: the file is ours alone (O_EXCL, 0600) and outlives the mapping.
        let map = unsafe { MmapMut::map_mut(file.as_file()) }.expect("mmap(MAP_SHARED)");
        Target { map, _file: file, round: 1 }
    }

    /// One changed byte in every page.
    fn dirty(&mut self) {
        self.round = self.round.wrapping_add(1).max(2);
        for page in self.map.chunks_mut(PAGE) {
            page[0] = self.round;
        }
    }
}

fn msync(c: &mut Criterion) {
    let dir = std::env::temp_dir();
    eprintln!(
        "msync: files in {} ({})",
        dir.display(),
        ipcbench_scenarios::sysinfo::filesystem_of(&dir)
    );
    let mut group = c.benchmark_group("msync");
    // A flush to disk takes milliseconds: few samples, each of a fixed number of flushes.
    group.sample_size(20).sampling_mode(SamplingMode::Flat);
    for pages in PAGES {
        let mut target: Option<Target> = None;
        group.bench_function(BenchmarkId::new("msync-sync", pages), |b| {
            let t = target.get_or_insert_with(|| Target::create(pages));
            b.iter_custom(|iters| {
                let mut flushing = Duration::ZERO;
                for _ in 0..iters {
                    t.dirty();
                    let start = Instant::now();
                    t.map.flush().expect("msync(MS_SYNC)");
                    flushing += start.elapsed();
                }
                flushing
            });
        });
    }
    group.finish();
}

criterion_group!(benches, msync);
criterion_main!(benches);
