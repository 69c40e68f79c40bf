//! Socket and pid file from the fail2ban.conf family alone (`fail2ban.conf`, `fail2ban.d/*.conf`,
//! `fail2ban.local`, `fail2ban.d/*.local`), which is all fail2ban-client reads before talking
//! to the server: a broken jail file must neither stop `ping` nor send it to another socket.
//!
//! f2b-config reads the fail2ban files only as part of a whole tree. Until it offers that read
//! on its own, the tree is presented to it without its jail files: a private directory of
//! links to every entry of the configuration directory except `jail.conf`, `jail.local` and
//! `jail.d`, so includes and `.d` directories resolve exactly as they would in place.

use std::path::{Path, PathBuf};

/// The socket and pid file named by the fail2ban files under `conf` (empty when unset).
/// `Err` holds the message for a fail2ban file that cannot be read, naming the real path.
pub fn socket_and_pidfile(conf: &Path) -> Result<(PathBuf, PathBuf), String> {
    let Some(shadow) = without_jail_files(conf) else {
        return from_whole_tree(conf);
    };
    match f2b_config::load(shadow.path()) {
        Ok(cfg) => Ok((cfg.socket, cfg.pidfile)),
        // Messages name the links; point them back at the real files.
        Err(e) => Err(e.to_string().replace(
            &shadow.path().to_string_lossy().into_owned(),
            &conf.to_string_lossy(),
        )),
    }
}

/// A private directory linking every entry of `conf` but the jail files; `None` when it
/// cannot be made (no writable temporary directory, say).
fn without_jail_files(conf: &Path) -> Option<tempfile::TempDir> {
    let shadow = tempfile::Builder::new()
        .prefix("f2b-client-conf")
        .tempdir()
        .ok()?;
    // Absolute link targets: the links live elsewhere than a relative `-c` points from.
    let absolute = std::path::absolute(conf).ok()?;
    for entry in std::fs::read_dir(absolute).ok()? {
        let entry = entry.ok()?;
        let name = entry.file_name();
        if matches!(name.to_str(), Some("jail.conf" | "jail.local" | "jail.d")) {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), shadow.path().join(&name)).ok()?;
    }
    Some(shadow)
}

/// The fallback: read the whole tree; an error outside the fail2ban files leaves the socket
/// and pid file unset (the defaults) instead of failing.
fn from_whole_tree(conf: &Path) -> Result<(PathBuf, PathBuf), String> {
    use f2b_config::ConfigError;
    match f2b_config::load(conf) {
        Ok(cfg) => Ok((cfg.socket, cfg.pidfile)),
        Err(ConfigError::Syntax { file, .. } | ConfigError::File { file, .. })
            if !file
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("fail2ban.")) =>
        {
            Ok((PathBuf::new(), PathBuf::new()))
        }
        Err(e) => Err(e.to_string()),
    }
}
