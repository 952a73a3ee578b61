//! The one way the server opens a library file on a request's behalf (streams, cover art).
//!
//! The path is walked one component at a time with `openat(O_NOFOLLOW)` from a handle on the
//! library root, so no symlink is followed anywhere below the root and nothing can be swapped
//! in between a check and the open (canonicalize + `starts_with` would leave that window). The
//! root itself is the configured, canonicalized folder and may be reached through a link.
//! A hard link to an outside file cannot be told apart; art bytes are therefore also checked
//! against their hash, and streams against their scanned size.

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum LibraryFsError {
    /// Nothing there (or a folder on the way is missing).
    #[error("no such file in the library")]
    Missing,
    /// The path is absolute, has `.`/`..`/empty parts, crosses a symlink, or is not a regular
    /// file: it could lead outside the library, so it is refused.
    #[error("path is refused: it is not a plain file inside the library")]
    Refused,
    #[error("cannot open library file: {0}")]
    Io(#[from] std::io::Error),
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
// NONBLOCK so that a FIFO planted in the library cannot hang the open; it does nothing to
// reads of a regular file.
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC);

/// Opens `rel` (library-relative, `/`-separated, as stored in the catalog) under `root`,
/// refusing any symlink on the way and anything that is not a regular file.
pub fn open(root: &Path, rel: &str) -> Result<File, LibraryFsError> {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
    {
        return Err(LibraryFsError::Refused);
    }
    let (name, dirs) = parts.split_last().ok_or(LibraryFsError::Refused)?;
    let mut dir: OwnedFd = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(from_errno)?;
    for part in dirs {
        dir = rustix::fs::openat(&dir, *part, DIR_FLAGS, Mode::empty()).map_err(from_errno)?;
    }
    let fd = rustix::fs::openat(&dir, *name, FILE_FLAGS, Mode::empty()).map_err(from_errno)?;
    let stat = rustix::fs::fstat(&fd).map_err(from_errno)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(LibraryFsError::Refused);
    }
    Ok(File::from(fd))
}

fn from_errno(e: Errno) -> LibraryFsError {
    match e {
        Errno::NOENT => LibraryFsError::Missing,
        // O_NOFOLLOW on a symlink gives ELOOP; O_DIRECTORY on a link or a file, ENOTDIR.
        Errno::LOOP | Errno::NOTDIR => LibraryFsError::Refused,
        other => LibraryFsError::Io(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    fn library() -> (tempfile::TempDir, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("lib");
        std::fs::create_dir_all(root.join("Artist/Album")).unwrap();
        std::fs::write(root.join("Artist/Album/01.mp3"), b"audio").unwrap();
        std::fs::write(tmp.path().join("secret"), b"secret").unwrap();
        (tmp, root)
    }

    fn read(root: &Path, rel: &str) -> Result<String, LibraryFsError> {
        let mut s = String::new();
        open(root, rel)?.read_to_string(&mut s)?;
        Ok(s)
    }

    #[test]
    fn a_plain_file_inside_the_library_opens() {
        let (_tmp, root) = library();
        assert_eq!(read(&root, "Artist/Album/01.mp3").unwrap(), "audio");
        assert!(matches!(
            read(&root, "Artist/Album/02.mp3"),
            Err(LibraryFsError::Missing)
        ));
        assert!(matches!(
            read(&root, "Nobody/x.mp3"),
            Err(LibraryFsError::Missing)
        ));
    }

    #[test]
    fn a_symlinked_file_is_refused_even_when_it_points_inside() {
        let (tmp, root) = library();
        symlink(
            tmp.path().join("secret"),
            root.join("Artist/Album/folder.png"),
        )
        .unwrap();
        symlink(
            root.join("Artist/Album/01.mp3"),
            root.join("Artist/Album/inside.mp3"),
        )
        .unwrap();
        assert!(matches!(
            read(&root, "Artist/Album/folder.png"),
            Err(LibraryFsError::Refused)
        ));
        assert!(matches!(
            read(&root, "Artist/Album/inside.mp3"),
            Err(LibraryFsError::Refused)
        ));
    }

    #[test]
    fn a_symlinked_folder_on_the_way_is_refused() {
        let (tmp, root) = library();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("cover.png"), b"outside").unwrap();
        symlink(&outside, root.join("Linked")).unwrap();
        symlink(root.join("Artist"), root.join("Alias")).unwrap();
        assert!(matches!(
            read(&root, "Linked/cover.png"),
            Err(LibraryFsError::Refused)
        ));
        assert!(matches!(
            read(&root, "Alias/Album/01.mp3"),
            Err(LibraryFsError::Refused)
        ));
    }

    #[test]
    fn dot_dot_absolute_and_empty_parts_are_refused() {
        let (_tmp, root) = library();
        for rel in [
            "../secret",
            "Artist/../../secret",
            "/etc/passwd",
            "",
            "Artist//Album/01.mp3",
            "./Artist/Album/01.mp3",
        ] {
            assert!(
                matches!(read(&root, rel), Err(LibraryFsError::Refused)),
                "{rel}"
            );
        }
    }

    #[test]
    fn folders_and_fifos_are_not_files() {
        let (_tmp, root) = library();
        assert!(matches!(
            read(&root, "Artist/Album"),
            Err(LibraryFsError::Refused)
        ));
        let fifo = root.join("Artist/Album/pipe.mp3");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(matches!(
            read(&root, "Artist/Album/pipe.mp3"),
            Err(LibraryFsError::Refused)
        ));
    }
}
