//! The configuration stream fail2ban-client hands to the server (`-d` prints it): built
//! from f2b-config's resolved commands as protocol values.

use f2b_config::LoadedConfig;
use f2b_protocol::Value;

/// The `-d` stream as values, in `f2b_config::dump_lines`' order (checked against it in the
/// tests): server settings, each jail's commands, then a `start` per jail that loaded.
pub fn dump_commands(cfg: &LoadedConfig) -> Vec<Value> {
    let mut out: Vec<Value> = cfg.server.iter().map(command_value).collect();
    for jail in &cfg.jails {
        out.extend(jail.commands.iter().map(command_value));
    }
    for jail in &cfg.jails {
        if jail.config_error().is_none() {
            out.push(Value::List(vec![
                Value::str("start"),
                Value::str(jail.name.as_str()),
            ]));
        }
    }
    out
}

/// The stream for reloading one jail: the server settings, then that jail (if enabled).
pub fn jail_stream(cfg: &LoadedConfig, name: &str) -> Vec<Value> {
    let mut out: Vec<Value> = cfg.server.iter().map(command_value).collect();
    if let Some(jail) = cfg.jails.iter().find(|j| j.name == name) {
        out.extend(jail.commands.iter().map(command_value));
        if jail.config_error().is_none() {
            out.push(Value::List(vec![Value::str("start"), Value::str(name)]));
        }
    }
    out
}

fn command_value(cmd: &f2b_config::Command) -> Value {
    Value::List(cmd.0.iter().map(config_value).collect())
}

fn config_value(v: &f2b_config::Value) -> Value {
    match v {
        f2b_config::Value::Str(s) => Value::Str(s.clone()),
        f2b_config::Value::Int(i) => Value::Int(*i),
        f2b_config::Value::Bool(b) => Value::Bool(*b),
        f2b_config::Value::None => Value::None,
        f2b_config::Value::List(items) => Value::List(items.iter().map(config_value).collect()),
        f2b_config::Value::Dict(pairs) => Value::Dict(
            pairs
                .iter()
                .map(|(k, v)| (Value::Str(k.clone()), config_value(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--dp` walks the stream itself: it must be the very stream `-d` prints.
    #[test]
    fn dump_commands_follow_dump_lines() {
        let dir = std::path::Path::new(crate::DEFAULT_CONF);
        let Ok(cfg) = f2b_config::load(dir) else {
            eprintln!(
                "SKIP dump_commands_follow_dump_lines: no readable {}",
                crate::DEFAULT_CONF
            );
            return;
        };
        let ours: Vec<String> = dump_commands(&cfg).iter().map(Value::py_repr).collect();
        assert_eq!(ours, f2b_config::dump_lines(&cfg));
    }
}
