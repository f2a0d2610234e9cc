//! The data folder holds the SQLite database (with its WAL), the encryption
//! key file and the outgoing mail: everything in it is private to the
//! account the server runs as. The process's umask makes every file it
//! creates 0600 and every folder 0700; files that an older version left
//! readable by others are tightened at start.

use anyhow::Context;
use std::path::Path;

/// Sets the umask, creates `dir` (0700) if needed and tightens what is in
/// it. Safe to call more than once.
pub fn prepare(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        rustix::process::umask(Mode::from_raw_mode(0o077));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
        let mut tightened = 0;
        let mut tighten = |path: &Path, private: u32| -> anyhow::Result<()> {
            let meta = std::fs::symlink_metadata(path)
                .with_context(|| format!("reading {}", path.display()))?;
            if meta.file_type().is_symlink() {
                return Ok(());
            }
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(private))
                    .with_context(|| format!("making {} private", path.display()))?;
                tightened += 1;
            }
            Ok(())
        };
        tighten(dir, 0o700)?;
        for folder in [dir.to_path_buf(), dir.join("mail")] {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                tighten(&path, if is_dir { 0o700 } else { 0o600 })?;
            }
        }
        if tightened > 0 {
            tracing::warn!(
                count = tightened,
                "made files in the data directory {} readable by this account only",
                dir.display()
            );
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_folder_and_what_is_in_it_become_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir_all(dir.join("mail")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for f in ["activepath.db", "activepath.db-wal", "mail/1.eml"] {
            std::fs::write(dir.join(f), b"x").unwrap();
            std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("mail")), 0o700);
        for f in ["activepath.db", "activepath.db-wal", "mail/1.eml"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        // New files are private too (the umask).
        std::fs::write(dir.join("new"), b"x").unwrap();
        assert_eq!(mode(&dir.join("new")), 0o600);
    }
}
