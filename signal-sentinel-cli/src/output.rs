//! Standard output that behaves in a pipe: when the reader goes away (`invest alerts list |
//! head -1`), the command stops quietly instead of panicking on a broken pipe.

use std::io::Write;

/// Writes one line to standard output; exits quietly (status 0) when the reader is gone.
pub(crate) fn line(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"))
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// `println!` for command output: see [`line()`].
macro_rules! out {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

pub(crate) use out;
