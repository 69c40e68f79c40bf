//! Action `<tag>` substitution. Static stage: any property text, self-references and
//! `tag?family=inet6` variants, never a panic or an endless loop. Dynamic stage, with an oracle
//! written independently of the code under test: a log-derived value that holds any character
//! the shell gives meaning to never appears in the script text; it is replaced by a `$f2bV_*`
//! variable whose value (NUL removed) travels as a separate `sh -c` argument, and a harmless value
//! appears as it is.
#![no_main]
use f2b_server::actions::tags::{replace_dynamic, replace_static};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

/// fail2ban's set of characters that make a value unsafe to splice, plus control characters.
fn shell_unsafe(v: &str) -> bool {
    v.chars().any(|c| "\\#&;`|*?~<>^()[]{}$'\"\n\r".contains(c) || (c.is_control() && c != '\t'))
}

const TEMPLATE: &str = "printf '%s\\n' <ip> <F-USER> <matches> <F-ID> >> /dev/null";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1}');
    let value = parts.next().unwrap_or("").to_string();
    let query = parts.next().unwrap_or("").to_string();
    let prop = parts.next().unwrap_or("").to_string();

    // Property values hold no tags here: replace_static receives properties that
    // substitute_recursive resolved, and a value naming its own tag (directly or through
    // `tag?family=inet6`) doubles on every pass (fuzz/regressions/action_tags-conditional-*,
    // reported to the owner of actions/tags.rs).
    let untagged = |s: &str| s.replace(['<', '>'], "");
    let mut subst = BTreeMap::new();
    subst.insert("name".to_string(), "jail".to_string());
    subst.insert("port".to_string(), untagged(&prop));
    subst.insert("port?family=inet6".to_string(), untagged(&query));
    subst.insert("matches".to_string(), untagged(&value));
    subst.insert("actionban".to_string(), untagged(&query));
    let _ = replace_static(&query, &subst, "");
    let _ = replace_static(&query, &subst, "family=inet6");
    let _ = replace_static(&prop, &subst, "family=inet6");

    // dynamic stage with the oracle
    let lookup = |tag: &str| match tag {
        "ip" | "matches" => Some(value.clone()),
        _ => None,
    };
    let capture = |key: &str| match key {
        "user" | "fid" => Some(value.clone()),
        _ => None,
    };
    let cmd = replace_dynamic(TEMPLATE, lookup, capture);
    let clean = value.replace('\0', "");
    if shell_unsafe(&clean) {
        for (tag, var) in [("<ip>", "$f2bV_ip"), ("<F-USER>", "$f2bV_F_user"), ("<matches>", "$f2bV_matches"), ("<F-ID>", "$f2bV_F_fid")] {
            assert!(!cmd.script.contains(tag), "tag {tag} left in {:?}", cmd.script);
            assert!(cmd.script.contains(var), "{var} missing in {:?}", cmd.script);
        }
        let expected = "printf '%s\\n' $f2bV_ip $f2bV_F_user $f2bV_matches $f2bV_F_fid >> /dev/null";
        assert_eq!(cmd.script, expected, "unsafe value {clean:?} reached the script");
        assert!(!cmd.vars.is_empty() && cmd.vars.iter().all(|(_, v)| *v == clean), "{:?}", cmd.vars);
        let (script, args) = cmd.to_sh_args();
        assert!(script.ends_with(expected));
        assert_eq!(args.len(), cmd.vars.len());
        for (i, (k, _)) in cmd.vars.iter().enumerate() {
            assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "variable name {k:?}");
            assert!(script.contains(&format!("{k}=${i} ")), "{script:?}");
        }
    } else {
        let expected = TEMPLATE
            .replace("<ip>", &clean)
            .replace("<F-USER>", &clean)
            .replace("<matches>", &clean)
            .replace("<F-ID>", &clean);
        assert_eq!(cmd.script, expected);
        assert!(cmd.vars.is_empty());
    }
    // fail2ban's regex tags expanded into a failregex: never a panic
    std::hint::black_box(f2b_filter::tags::expand(&text, f2b_filter::UseDns::No));
});
