//! Man page rendering: clap_mangen's sections, then the program's own preformatted sections
//! and SEE ALSO.

use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

use crate::programs::Program;

/// The page of `program` (section 1) as roff source. Deterministic: the release stands where
/// the date would (an empty field would shift the ones after it), so a regeneration changes
/// the file only when the definitions or the version change.
pub fn render(program: &Program) -> Vec<u8> {
    let man = Man::new(program.command.clone())
        .title(program.name.to_uppercase())
        .date(format!("f2b {}", env!("CARGO_PKG_VERSION")))
        .source("f2b")
        .manual("f2b manual");
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut push = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut buf = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = f(&mut buf);
        parts.push(buf);
    };
    push(&|w| man.render_title(w));
    push(&|w| man.render_name_section(w));
    push(&|w| man.render_synopsis_section(w));
    push(&|w| man.render_description_section(w));
    push(&|w| man.render_options_section(w));
    for (heading, lines) in &program.sections {
        let mut roff = Roff::new();
        roff.control("SH", [*heading]).control("nf", []);
        for line in lines {
            roff.text([roman(line.as_str())]);
        }
        roff.control("fi", []);
        push(&|w| roff.to_writer(w));
    }
    let mut roff = Roff::new();
    roff.control("SH", ["SEE ALSO"]);
    let others = ["f2b-client", "f2b-regex", "f2b-server"]
        .into_iter()
        .filter(|n| *n != program.name);
    let mut refs = Vec::new();
    for name in others {
        refs.push(bold(name));
        refs.push(roman("(1), "));
    }
    refs.push(roman(
        "jail.conf(5) of fail2ban, whose configuration f2b reads unchanged.",
    ));
    roff.text(refs);
    push(&|w| roff.to_writer(w));
    push(&|w| man.render_version_section(w));

    // Each part opens with the same roff preamble; keep only the first.
    let preamble = Roff::new().render().into_bytes();
    let mut page = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        match part.strip_prefix(preamble.as_slice()) {
            Some(rest) if i > 0 => page.extend_from_slice(rest),
            _ => page.extend_from_slice(&part),
        }
    }
    page
}
