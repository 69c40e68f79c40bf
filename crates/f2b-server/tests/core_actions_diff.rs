//! The same action scenarios through fail2ban 1.0's own `CommandAction` (python3) and ours:
//! the commands run (traced to a file, with the values they received) and each step's
//! success must be identical. Skips with a printed reason when fail2ban is absent.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use f2b_server::actions::{ActionDef, ActionInfo, CommandAction};
use f2b_server::ticket::{BanTicket, BanTime};
use serde_json::{json, Value};

fn python_with_fail2ban() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import fail2ban.server.action"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

const PY: &str = r#"
import sys, json, os, logging
logging.disable(logging.CRITICAL)
from fail2ban.server.action import CommandAction
from fail2ban.server.ipdns import IPAddr
spec = json.loads(sys.argv[1]); d = sys.argv[2]
class _Acts:
    banEpoch = 0
    def _getActionInfo(self, t): return {}
class _Jail:
    actions = _Acts()
a = CommandAction(_Jail(), 'test')
a.dir = d
for k, v in list(spec['cmds'].items()) + list(spec['props'].items()):
    if v in ('true', 'false') and k in ('actionstart_on_demand', 'actionrepair_on_unban', 'norestored'):
        v = (v == 'true')
    setattr(a, k, v)
def info(t):
    ip = IPAddr(t['ip'])
    return {'ip': ip, 'family': ip.familyStr, 'fid': t['ip'], 'failures': t['failures'],
            'time': 1700000000.0, 'bantime': 600, 'bancount': 1, 'restored': 0,
            'matches': '\n'.join(t['matches']), 'ip-rev': ip.getPTR(''), 'F-*': t['captures']}
res = []
for st in spec['steps']:
    op = st[0]
    try:
        if op == 'start': a.start()
        elif op == 'stop': a.stop()
        elif op == 'flush': a.flush()
        elif op == 'reload': a.reload()
        elif op == 'check':
            if not a.consistencyCheck(): raise RuntimeError('check')
        elif op == 'ban': a.ban(info(st[1]))
        elif op == 'reban': a.reban(info(st[1]))
        elif op == 'unban': a.unban(info(st[1]))
        elif op == 'rm':
            if os.path.exists(os.path.join(d, st[1])): os.remove(os.path.join(d, st[1]))
        elif op == 'touch': open(os.path.join(d, st[1]), 'a').close()
        res.append('ok')
    except Exception as e:
        res.append('err')
tr = open(os.path.join(d, 'trace')).read() if os.path.exists(os.path.join(d, 'trace')) else ''
print(json.dumps({'results': res, 'trace': tr}))
"#;

fn ticket(t: &Value) -> BanTicket {
    let ip = t["ip"].as_str().unwrap_or_default();
    let mut b = BanTicket::new(ip, 1_700_000_000.0);
    b.set_ban_count(1);
    b.data_mut().failures = t["failures"].as_u64().unwrap_or(0) as u32;
    b.data_mut().matches = t["matches"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    if let Some(c) = t["captures"].as_object() {
        for (k, v) in c {
            b.set_capture(k.clone(), v.as_str().unwrap_or("").to_string());
        }
    }
    b
}

fn ours(spec: &Value, dir: &Path) -> Value {
    let obj = |k: &str| -> BTreeMap<String, String> {
        spec[k]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(a, b)| (a.clone(), b.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut props = obj("props");
    props.insert("dir".into(), dir.display().to_string());
    let mut a = CommandAction::new(ActionDef::new("test", obj("cmds"), props), "jail", true);
    let bt = BanTime::Seconds(600.0);
    let mut res = Vec::new();
    for st in spec["steps"].as_array().unwrap() {
        let op = st[0].as_str().unwrap();
        let ok = match op {
            "start" => a.start(0.0).is_ok(),
            "stop" => a.stop(0.0).is_ok(),
            "flush" => a.flush(0.0).is_ok(),
            "reload" => a.reload(0.0).is_ok(),
            "check" => a.consistency_check(0.0, None),
            "ban" | "reban" | "unban" => {
                let t = ticket(&st[1]);
                let info = ActionInfo::new(&t, bt);
                match op {
                    "ban" => a.ban(&info, 0.0).is_ok(),
                    "reban" => a.reban(&info, 0.0).is_ok(),
                    _ => a.unban(&info, 0.0).is_ok(),
                }
            }
            "rm" => {
                let _ = std::fs::remove_file(dir.join(st[1].as_str().unwrap()));
                true
            }
            "touch" => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(st[1].as_str().unwrap()))
                .is_ok(),
            other => panic!("unknown step {other}"),
        };
        res.push(if ok { "ok" } else { "err" });
    }
    let tr = std::fs::read_to_string(dir.join("trace")).unwrap_or_default();
    json!({"results": res, "trace": tr})
}

fn scenarios() -> Vec<(&'static str, Value)> {
    let v4 = json!({"ip": "192.0.2.1", "failures": 3, "matches": ["line one", "line two"], "captures": {"user": "root"}});
    let v4b = json!({"ip": "192.0.2.2", "failures": 5, "matches": [], "captures": {}});
    let v6 = json!({"ip": "2001:db8::1", "failures": 2, "matches": ["v6 line"], "captures": {"user": "admin"}});
    let hostile = json!({"ip": "192.0.2.9", "failures": 1,
        "matches": ["x'y \"z\" $(touch <dir>/pwned) `id` ; | & > < \\ * ? ~ ^ ( ) [ ] { } #", "second\tline"],
        "captures": {"user": "r$(id)oot", "fid": "a b;c"}});
    let trace_cmds = |extra: &[(&str, &str)]| {
        let mut m = serde_json::Map::new();
        for (k, v) in [
            (
                "actionstart",
                "echo start <family> >> <dir>/trace; touch <dir>/chain",
            ),
            (
                "actionstop",
                "echo stop <family> >> <dir>/trace; rm -f <dir>/chain",
            ),
            (
                "actionban",
                "echo ban <ip> <family> >> <dir>/trace; test -e <dir>/chain",
            ),
            (
                "actionunban",
                "echo unban <ip> >> <dir>/trace; test -e <dir>/chain",
            ),
        ] {
            m.insert(k.into(), json!(v));
        }
        for (k, v) in extra {
            m.insert((*k).into(), json!(v));
        }
        Value::Object(m)
    };
    vec![
        (
            "plain lifecycle",
            json!({
            "cmds": trace_cmds(&[("actionflush", "echo flush <family> >> <dir>/trace")]), "props": {},
            "steps": [["start"], ["ban", v4], ["ban", v6], ["unban", v4], ["flush"], ["unban", v6], ["stop"], ["stop"]]}),
        ),
        (
            "conditional families",
            json!({
            "cmds": trace_cmds(&[]), "props": {"x?family=inet6": "6"},
            "steps": [["start"], ["ban", v4], ["ban", v4b], ["ban", v6], ["unban", v6], ["stop"], ["unban", v4]]}),
        ),
        (
            "explicit on demand",
            json!({
            "cmds": trace_cmds(&[]), "props": {"actionstart_on_demand": "true"},
            "steps": [["start"], ["unban", v4], ["ban", v4], ["ban", v6], ["stop"]]}),
        ),
        (
            "check and repair",
            json!({
            "cmds": trace_cmds(&[("actioncheck", "echo check >> <dir>/trace; test -e <dir>/chain"),
                                 ("actionrepair", "echo repair >> <dir>/trace; touch <dir>/chain")]),
            "props": {},
            "steps": [["start"], ["rm", "chain"], ["ban", v4], ["rm", "chain"], ["unban", v4], ["ban", v4b], ["rm", "chain"], ["check"], ["stop"]]}),
        ),
        (
            "repair on unban",
            json!({
            "cmds": trace_cmds(&[("actioncheck", "echo check >> <dir>/trace; test -e <dir>/chain"),
                                 ("actionrepair", "echo repair >> <dir>/trace; touch <dir>/chain")]),
            "props": {"actionrepair_on_unban": "true"},
            "steps": [["start"], ["ban", v4], ["rm", "chain"], ["unban", v4]]}),
        ),
        (
            "restart without repair, plain",
            json!({
            "cmds": trace_cmds(&[("actioncheck", "echo check >> <dir>/trace; test -e <dir>/chain")]), "props": {},
            "steps": [["start"], ["rm", "chain"], ["ban", v4], ["ban", v4], ["unban", v4], ["check"]]}),
        ),
        (
            "restart without repair, conditional",
            json!({
            "cmds": trace_cmds(&[("actioncheck", "echo check <family> >> <dir>/trace; test -e <dir>/chain")]),
            "props": {"x?family=inet6": "6"},
            "steps": [["start"], ["ban", v4], ["rm", "chain"], ["ban", v4b], ["rm", "chain"], ["unban", v4], ["ban", v6], ["check"]]}),
        ),
        (
            "failing ban retried",
            json!({
            "cmds": {"actionban": "echo ban >> <dir>/trace; false", "actionunban": "echo unban >> <dir>/trace"}, "props": {},
            "steps": [["start"], ["ban", v4], ["unban", v4]]}),
        ),
        (
            "reban",
            json!({
            "cmds": {"actionban": "echo ban <ip> >> <dir>/trace", "actionreban": "echo reban <ip> >> <dir>/trace"}, "props": {},
            "steps": [["reban", v4], ["ban", v4]]}),
        ),
        (
            "reban falls back to ban",
            json!({
            "cmds": {"actionban": "echo ban <ip> >> <dir>/trace"}, "props": {},
            "steps": [["reban", v4]]}),
        ),
        (
            "failing start and flush",
            json!({
            "cmds": {"actionstart": "echo start >> <dir>/trace; false", "actionban": "echo ban >> <dir>/trace",
                     "actionflush": "echo flush >> <dir>/trace; false", "actionstop": "echo stop >> <dir>/trace"},
            "props": {},
            "steps": [["start"], ["ban", v4], ["flush"], ["stop"]]}),
        ),
        (
            "values reach the command literally",
            json!({
            "cmds": {"actionban": "printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\\n' \"<ip>\" \"<fid>\" \"<F-USER>\" \"<F-ID>\" \"<F-NONE>\" \"<matches>\" <failures> <time> <ip-rev> >> <dir>/trace; echo '<ip>,<name>' <bantime> <bancount> \"<br>\" >> <dir>/trace"},
            "props": {"name": "jailname"},
            "steps": [["ban", v4], ["ban", v6], ["ban", hostile]]}),
        ),
        (
            "recursive properties",
            json!({
            "cmds": {"actionstart": "echo <start-msg> >> <dir>/trace", "actionban": "echo <iptables> -I <chain> -s <ip> -j <blocktype> >> <dir>/trace"},
            "props": {"start-msg": "starting <chain>", "chain": "f2b-<name>", "name": "sshd", "iptables": "iptables <lockingopt>",
                      "lockingopt": "-w", "blocktype": "REJECT", "blocktype?family=inet6": "REJECT6"},
            "steps": [["start"], ["ban", v4], ["ban", v6], ["stop"]]}),
        ),
    ]
}

#[test]
fn same_behaviour_as_fail2ban_command_action() {
    let Some(py) = python_with_fail2ban() else {
        eprintln!("SKIP: no python3 with the fail2ban package");
        return;
    };
    let mut compared = 0;
    for (name, spec) in scenarios() {
        let d_ref = tempfile::tempdir().unwrap();
        let d_our = tempfile::tempdir().unwrap();
        // a value may name <dir>: make it point into each side's own directory
        let spec_for = |d: &Path| -> Value {
            serde_json::from_str(
                &spec
                    .to_string()
                    .replace("<dir>/pwned", &format!("{}/pwned", d.display())),
            )
            .unwrap()
        };
        let out = Command::new(py)
            .arg("-c")
            .arg(PY)
            .arg(spec_for(d_ref.path()).to_string())
            .arg(d_ref.path())
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Value = serde_json::from_slice(
            out.stdout
                .split(|b| *b == b'\n')
                .rfind(|l| l.starts_with(b"{"))
                .unwrap_or(b"{}"),
        )
        .expect("json from python");
        let mine = ours(&spec_for(d_our.path()), d_our.path());
        let norm = |v: &Value, d: &Path| v.to_string().replace(&d.display().to_string(), "DIR");
        assert_eq!(
            norm(&mine, d_our.path()),
            norm(&theirs, d_ref.path()),
            "scenario {name:?}"
        );
        assert!(!d_our.path().join("pwned").exists() && !d_ref.path().join("pwned").exists());
        compared += 1;
    }
    assert_eq!(compared, scenarios().len());
}
