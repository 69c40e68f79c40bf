//! Signals: the client ends on SIGINT/SIGTERM as fail2ban-client does, or hands them to the
//! server it runs in the foreground.

use std::sync::atomic::{AtomicI32, Ordering};

/// The foreground server (`start -f`) our signals are handed to, 0 when none.
static FOREGROUND_SERVER: AtomicI32 = AtomicI32::new(0);

/// SIGINT/SIGTERM end the client as fail2ban-client's handler does: a newline (the wait
/// indicator may be mid-line), a warning, exit status 255. Only async-signal-safe calls.
extern "C" fn on_signal(sig: libc::c_int) {
    let child = FOREGROUND_SERVER.load(Ordering::SeqCst);
    if child > 0 {
        // The server decides how to stop; we follow when it exits.
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, sig) };
        return;
    }
    const HEAD: &[u8] = b"WARNING Caught signal ";
    const TAIL: &[u8] = b". Exiting\n";
    let mut buf = [0u8; 64];
    buf[..HEAD.len()].copy_from_slice(HEAD);
    let mut n = HEAD.len();
    if sig >= 10 {
        buf[n] = b'0' + ((sig / 10) % 10) as u8;
        n += 1;
    }
    buf[n] = b'0' + (sig % 10) as u8;
    n += 1;
    buf[n..n + TAIL.len()].copy_from_slice(TAIL);
    n += TAIL.len();
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffers live on this stack.
    unsafe {
        libc::write(1, b"\n".as_ptr().cast(), 1);
        libc::write(2, buf.as_ptr().cast(), n);
        libc::_exit(crate::FAILURE);
    }
}

pub fn install_handlers() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only makes async-signal-safe calls.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// From now on our SIGINT/SIGTERM go to `pid` (0: back to ending the client).
pub fn forward_to(pid: i32) {
    FOREGROUND_SERVER.store(pid, Ordering::SeqCst);
}
