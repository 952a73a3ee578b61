#!/usr/bin/env bash
# Rebuilds the demo library in assets/demo from scratch.
#
#   assets/generate-demo.sh            # writes assets/demo
#   assets/generate-demo.sh OUT_DIR    # writes somewhere else
#
# The music is synthesized by `mixtape-libgen demo` (tools/libgen), finished with sox
# (reverb, fades, loudness), encoded with ffmpeg and tagged with lofty. The output is
# reproducible: running it twice gives byte-identical files with the same tool versions.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="${1:-$here/demo}"

missing_tools=()
missing_packages=()
need() { # tool, Debian package(s)
    if ! command -v "$1" >/dev/null 2>&1; then
        missing_tools+=("$1")
        missing_packages+=("$2")
    fi
}
need sox "sox libsox-fmt-all"
need ffmpeg "ffmpeg"
need cargo "(a Rust toolchain, https://rustup.rs)"
if ((${#missing_tools[@]})); then
    echo "error: missing tools: ${missing_tools[*]}" >&2
    echo "install them with:  apt-get install -y ${missing_packages[*]}" >&2
    exit 1
fi
# sox needs its format handlers for WAV in/out (libsox-fmt-all covers the rest).
if ! sox -n -t wav /dev/null synth 0.01 sine 440 2>/dev/null; then
    echo "error: sox cannot write WAV; install: apt-get install -y sox libsox-fmt-all" >&2
    exit 1
fi

case "$(cd "$(dirname "$out")" 2>/dev/null && pwd)/$(basename "$out")" in
    / | "$HOME" | "$root" | "$here")
        echo "error: refusing to replace $out" >&2
        exit 1
        ;;
esac

echo "building mixtape-libgen..." >&2
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p mixtape-libgen

tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
cargo run --quiet --release --manifest-path "$root/Cargo.toml" -p mixtape-libgen -- \
    demo --out "$tmp" --table
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "demo library written to $out ($(du -sh "$out" | cut -f1))" >&2
echo "if the track list changed, paste the table above into assets/README.md" >&2
