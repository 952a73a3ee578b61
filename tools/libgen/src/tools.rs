//! Finding and running the external programs (sox, ffmpeg).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// An external program the generators may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// Executable name.
    pub name: &'static str,
    /// Debian package that provides it.
    pub package: &'static str,
}

/// `sox`, used by `demo` for reverb, fades and loudness.
pub const SOX: Tool = Tool {
    name: "sox",
    package: "sox libsox-fmt-all",
};

/// `ffmpeg`, used to encode every compressed format.
pub const FFMPEG: Tool = Tool {
    name: "ffmpeg",
    package: "ffmpeg",
};

impl Tool {
    /// Full path of the executable if it is on `PATH`.
    pub fn find(self) -> Option<PathBuf> {
        find_on_path(self.name)
    }

    /// Fails with [`Error::MissingTool`] when the program is not installed.
    pub fn require(self) -> Result<PathBuf> {
        self.find().ok_or(Error::MissingTool {
            tool: self.name,
            package: self.package,
        })
    }

    /// Runs the program with `args`, failing with its standard error if it exits non-zero.
    pub(crate) fn run<I, S>(self, args: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let output = Command::new(self.name)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::MissingTool {
                        tool: self.name,
                        package: self.package,
                    }
                } else {
                    Error::Io {
                        action: "running",
                        path: PathBuf::from(self.name),
                        source: e,
                    }
                }
            })?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let command = std::iter::once(self.name.to_owned())
            .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(" ");
        Err(Error::ToolFailed {
            command,
            status: output.status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        })
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

/// Encodes a WAV file into `format` with ffmpeg, stripping every tag ffmpeg would write.
pub(crate) fn ffmpeg_encode(
    input: &Path,
    output: &Path,
    format: crate::AudioFormat,
    quality: crate::format::EncodeQuality,
    extra_input_args: &[&str],
) -> Result<()> {
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("-hide_banner"),
        OsStr::new("-loglevel"),
        OsStr::new("error"),
        OsStr::new("-nostdin"),
        OsStr::new("-y"),
    ];
    args.extend(extra_input_args.iter().map(OsStr::new));
    args.push(OsStr::new("-i"));
    args.push(input.as_os_str());
    for a in [
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        "-flags:a",
        "+bitexact",
    ] {
        args.push(OsStr::new(a));
    }
    let codec = format.ffmpeg_codec_args(quality);
    args.extend(codec.iter().map(OsStr::new));
    args.push(output.as_os_str());
    FFMPEG.run(args)
}
