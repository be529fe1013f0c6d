//! Progress on stderr: the bar, drawn by indicatif, and [`Counting`], the reader that moves it.

use std::io::{self, IsTerminal, Read, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Global;

/// A progress bar on stderr: shown when stderr is a terminal and the size is known, or when
/// forced with `--progress`; hidden otherwise.
pub fn progress_bar(global: &Global, total: Option<u64>) -> ProgressBar {
    let show = global.progress || (io::stderr().is_terminal() && total.is_some());
    if !show || global.quiet {
        return ProgressBar::hidden();
    }
    let target = if io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        // --progress when stderr is not a terminal: indicatif would hide the bar, so draw it
        // ourselves, a line redrawn in place.
        ProgressDrawTarget::term_like_with_hz(Box::new(PlainStderr), 2)
    };
    let bar = ProgressBar::with_draw_target(total, target);
    let style = if total.is_some() {
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
    } else {
        ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec} {msg}")
    };
    if let Ok(s) = style {
        bar.set_style(s);
    }
    bar
}

/// Moves the cursor `n` places (`A` up, `B` down, `C` right, `D` left); 0 is no move, where
/// ANSI would read it as 1.
fn cursor(n: usize, dir: char) -> io::Result<()> {
    if n == 0 {
        return Ok(());
    }
    write!(io::stderr(), "\x1b[{n}{dir}")
}

/// stderr as indicatif's terminal, when it is not one: fixed width, cursor moves as ANSI codes.
#[derive(Debug)]
struct PlainStderr;

impl indicatif::TermLike for PlainStderr {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        cursor(n, 'A')
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        cursor(n, 'B')
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        cursor(n, 'C')
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        cursor(n, 'D')
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        writeln!(io::stderr(), "{s}")
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        write!(io::stderr(), "{s}")
    }
    fn clear_line(&self) -> io::Result<()> {
        write!(io::stderr(), "\r\x1b[2K")
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// A reader that advances a progress bar.
pub struct Counting<R> {
    pub inner: R,
    pub bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
