//! The progress indicator fail2ban-client draws on stdout (from `-vv` on) while it waits
//! more than a second for the server: a `#` bouncing inside `[          ]`.

use std::io::Write;

const WIDTH: i32 = 10;

pub struct VisualWait {
    enabled: bool,
    pos: i32,
    delta: i32,
}

impl VisualWait {
    pub fn new(verbose: i32) -> VisualWait {
        VisualWait {
            enabled: verbose > 1,
            pos: 0,
            delta: 1,
        }
    }

    /// One step of the indicator (drawn on the first step).
    pub fn heartbeat(&mut self) {
        if !self.enabled {
            return;
        }
        let mut out = String::new();
        if self.pos == 0 {
            out.push_str(&format!(
                "\nINFO   [#{}] Waiting on the server...\r\x1b[8C",
                " ".repeat(WIDTH as usize)
            ));
        }
        self.pos += self.delta;
        out.push_str(match (self.delta > 0, self.pos > 1) {
            (true, true) => " #\x1b[1D",
            (true, false) => "# \x1b[2D",
            (false, _) => "\x1b[1D# \x1b[2D",
        });
        if self.pos > WIDTH {
            self.delta = -1;
        } else if self.pos < 2 {
            self.delta = 1;
        }
        write_flush(&out);
    }
}

impl Drop for VisualWait {
    /// Wipes the indicator's line.
    fn drop(&mut self) {
        if self.enabled && self.pos != 0 {
            write_flush(&format!("\r{}\r", " ".repeat(35 + WIDTH as usize)));
        }
    }
}

fn write_flush(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}
