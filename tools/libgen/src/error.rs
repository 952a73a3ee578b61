//! Error type of the library.

use std::path::PathBuf;

/// Everything that can go wrong while generating a library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An external program (sox, ffmpeg) is not installed.
    #[error(
        "required tool `{tool}` was not found on PATH; install it with `apt-get install {package}`"
    )]
    MissingTool {
        /// Program name.
        tool: &'static str,
        /// Debian package that provides it.
        package: &'static str,
    },

    /// An external program ran but failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    ToolFailed {
        /// The command line, for the message.
        command: String,
        /// Exit status as text.
        status: String,
        /// The tail of its standard error.
        stderr: String,
    },

    /// A file system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("writing", "creating directory", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// lofty could not write the tags.
    #[error("tagging {what}: {source}")]
    Tagging {
        /// The file (or template) being tagged.
        what: String,
        /// The underlying error.
        #[source]
        source: lofty::error::FileEncodingError,
    },

    /// lofty could not read a file back.
    #[error("reading tags of {path}: {source}")]
    Reading {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: lofty::error::FileParseError,
    },

    /// Generating or encoding cover art failed.
    #[error("cover art: {0}")]
    Image(#[from] image::ImageError),

    /// An unknown audio format name was given.
    #[error("unknown audio format `{0}` (expected one of mp3, flac, ogg, opus, m4a, wav)")]
    UnknownFormat(String),

    /// Invalid arguments.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
