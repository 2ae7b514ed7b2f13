//! The one way the host replaces a file: write a temporary file beside it, flush
//! it to disk, rename it over the old one. A reader (another process, a resume
//! after a kill) sees the old file or the new one, never half of one.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Replace `path` with `bytes` atomically, creating its directory if needed.
/// The error names the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    // The pid keeps two processes that share a directory (a cache) apart.
    let name = path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("discover-fs-test-{}", std::process::id()));
        let path = dir.join("sub/file.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let left: Vec<_> = std::fs::read_dir(dir.join("sub")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("file.txt")]);
        // A directory in the way: an error, and no temporary left behind.
        std::fs::create_dir_all(dir.join("sub/taken")).unwrap();
        let err = write_atomic(&dir.join("sub/taken"), b"x").unwrap_err();
        assert!(format!("{err:#}").starts_with(&format!("cannot write {}", dir.join("sub/taken").display())), "{err:#}");
        assert_eq!(std::fs::read_dir(dir.join("sub")).unwrap().count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
