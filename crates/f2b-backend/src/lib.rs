//! Log backends: file tailing with rotation, and the systemd journal.
