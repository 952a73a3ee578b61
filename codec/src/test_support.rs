//! Test helpers: the demo library's files and ffprobe's view of them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo")
}

/// Every demo file with this extension, sorted.
pub fn demo_files(ext: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("demo dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&demo_dir(), ext, &mut out);
    out.sort();
    assert!(!out.is_empty(), "no .{ext} in the demo library");
    out
}

/// ffprobe's `duration_ts` of the first audio stream, asserting its time base is 1/rate.
pub fn ffprobe_duration_ts(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
        .args(["stream=sample_rate,time_base,duration_ts", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs (it comes with ffmpeg)");
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.trim().split(',').collect();
    let [rate, time_base, duration] = fields[..] else {
        panic!("ffprobe on {}: {text:?}", path.display());
    };
    assert_eq!(time_base, format!("1/{rate}"), "{}", path.display());
    duration.parse().expect("duration_ts")
}
