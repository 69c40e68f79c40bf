//! The command handler on a server with in-memory jails: the shapes of fail2ban's replies, and
//! odd commands answered with errors (never a panic).
use std::sync::{mpsc, Arc};
use std::time::Duration;

use f2b_config::JailSpec;
use f2b_protocol::server::{CommandError, Handler};
use f2b_protocol::Value;
use f2b_server::ignore::IgnoreList;
use f2b_server::jail::{
    ActionSet, Found, JailParts, JailSettings, LineFilter, LineSource, SourceLine,
};
use f2b_server::server::{Config, DbSettings, JailBuilder, Server};
use f2b_server::ticket::{BanTicket, BanTime};
use f2b_server::transmitter::Transmitter;

struct Quiet;
impl LineSource for Quiet {
    fn poll(&mut self, timeout: Duration, _: &mut dyn FnMut(SourceLine<'_>)) -> Vec<String> {
        std::thread::sleep(timeout.min(Duration::from_millis(50)));
        Vec::new()
    }
    fn status(&self) -> (&'static str, Vec<String>) {
        ("File list", vec!["/var/log/a.log".into()])
    }
}

struct NoFilter;
impl LineFilter for NoFilter {
    fn process(&mut self, _: &SourceLine<'_>, _: f64, _: &mut Vec<Found>) {}
}

struct NoActions;
impl ActionSet for NoActions {
    fn start(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn stop(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn ban(&mut self, _: &BanTicket) -> Vec<(String, String)> {
        Vec::new()
    }
    fn unban(&mut self, _: &BanTicket, _: &[String]) -> Vec<(String, String)> {
        Vec::new()
    }
    fn flushable(&self) -> Vec<String> {
        Vec::new()
    }
    fn flush(&mut self, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn names(&self) -> Vec<String> {
        vec!["iptables".into()]
    }
}

struct Mem;
impl JailBuilder for Mem {
    fn build(
        &self,
        spec: &JailSpec,
        restore: Vec<BanTicket>,
        fail_total: u64,
    ) -> Result<JailParts, String> {
        if spec.name == "broken" {
            return Err("filter 'nope' not found".into());
        }
        Ok(JailParts {
            settings: JailSettings {
                name: spec.name.clone(),
                maxretry: spec.maxretry,
                findtime: spec.findtime,
                bantime: BanTime::from_secs(spec.bantime),
                maxmatches: 5,
            },
            source: Box::new(|| Ok(Box::new(Quiet) as Box<dyn LineSource>)),
            source_status: ("File list", vec![]),
            filter: Box::new(NoFilter),
            actions: Box::new(NoActions),
            ignore: IgnoreList::new(false),
            store: None,
            observer: None,
            restore,
            fail_total,
        })
    }
}

fn spec(name: &str, bantime: f64) -> JailSpec {
    JailSpec {
        name: name.into(),
        maxretry: 3,
        findtime: 600.0,
        bantime,
        ..Default::default()
    }
}

fn setup() -> (
    Arc<Server>,
    Transmitter,
    mpsc::Receiver<f2b_server::daemon::Event>,
) {
    let (tx, rx) = mpsc::channel();
    let db = DbSettings {
        file: None,
        purgeage: 86400.0,
        maxmatches: None,
    };
    let server = Arc::new(Server::new(
        "/nonexistent".into(),
        Box::new(Mem),
        tx,
        db,
        None,
    ));
    server.start_all(Config {
        server: None,
        jails: vec![
            spec("sshd", 600.0),
            spec("broken", 600.0),
            spec("apache", -1.0),
        ],
        errors: vec!["jail 'x': bad".into()],
    });
    let t = Transmitter::new(Arc::clone(&server));
    (server, t, rx)
}

fn cmd(words: &[&str]) -> Vec<Value> {
    Value::words(words)
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn pair(l: &str, v: Value) -> Value {
    Value::Tuple(vec![s(l), v])
}

#[test]
fn status_and_ban_replies_have_fail2bans_shapes() {
    let (server, t, _rx) = setup();
    // the broken jail is skipped, the others run
    assert_eq!(
        t.handle(&cmd(&["status"])).unwrap(),
        Value::List(vec![
            pair("Number of jail", Value::Int(2)),
            pair("Jail list", s("apache, sshd"))
        ])
    );
    assert_eq!(
        t.handle(&cmd(&["set", "sshd", "banip", "192.0.2.1", "192.0.2.2"]))
            .unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        t.handle(&cmd(&["set", "sshd", "banip", "192.0.2.1"]))
            .unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        t.handle(&cmd(&["status", "sshd"])).unwrap(),
        Value::List(vec![
            pair(
                "Filter",
                Value::List(vec![
                    pair("Currently failed", Value::Int(0)),
                    pair("Total failed", Value::Int(0)),
                    pair("File list", Value::List(vec![s("/var/log/a.log")])),
                ])
            ),
            pair(
                "Actions",
                Value::List(vec![
                    pair("Currently banned", Value::Int(2)),
                    pair("Total banned", Value::Int(2)),
                    pair(
                        "Banned IP list",
                        Value::List(vec![s("192.0.2.1"), s("192.0.2.2")])
                    ),
                ])
            ),
        ])
    );
    assert_eq!(
        t.handle(&cmd(&["banned"])).unwrap(),
        Value::List(vec![
            Value::Dict(vec![(s("apache"), Value::List(vec![]))]),
            Value::Dict(vec![(
                s("sshd"),
                Value::List(vec![s("192.0.2.1"), s("192.0.2.2")])
            )]),
        ])
    );
    assert_eq!(
        t.handle(&cmd(&["banned", "192.0.2.2", "10.0.0.1"]))
            .unwrap(),
        Value::List(vec![Value::List(vec![s("sshd")]), Value::List(vec![])])
    );
    assert_eq!(
        t.handle(&cmd(&["get", "sshd", "banned", "192.0.2.2"]))
            .unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        t.handle(&cmd(&["get", "apache", "bantime"])).unwrap(),
        Value::Int(-1)
    );
    assert_eq!(
        t.handle(&cmd(&["set", "sshd", "bantime", "1h"])).unwrap(),
        Value::Int(3600)
    );
    assert_eq!(
        t.handle(&cmd(&["get", "sshd", "actions"])).unwrap(),
        Value::List(vec![s("iptables")])
    );
    assert_eq!(
        t.handle(&cmd(&["unban", "192.0.2.1", "192.0.2.9"]))
            .unwrap(),
        Value::Int(1)
    );
    assert_eq!(t.handle(&cmd(&["unban", "--all"])).unwrap(), Value::Int(1));
    assert_eq!(
        t.handle(&cmd(&["get", "sshd", "banip"])).unwrap(),
        Value::List(vec![])
    );
    assert_eq!(t.handle(&cmd(&["ping"])).unwrap(), s("pong"));
    assert_eq!(
        t.handle(&cmd(&["echo", "a", "b"])).unwrap(),
        Value::List(vec![s("a"), s("b")])
    );
    assert_eq!(t.handle(&cmd(&["get", "dbfile"])).unwrap(), Value::None);
    server.stop_all();
}

#[test]
fn odd_commands_are_errors_not_panics() {
    let (server, t, rx) = setup();
    assert_eq!(
        t.handle(&cmd(&["status", "nosuch"])),
        Err(CommandError::UnknownJail("nosuch".into()))
    );
    assert!(matches!(t.handle(&[]), Err(CommandError::Index(_))));
    assert!(matches!(
        t.handle(&cmd(&["frobnicate"])),
        Err(CommandError::Failed(_))
    ));
    assert!(matches!(
        t.handle(&cmd(&["set", "sshd"])),
        Err(CommandError::Index(_))
    ));
    assert!(matches!(
        t.handle(&cmd(&["set", "sshd", "bantime", "forever-ish"])),
        Err(CommandError::Value(_))
    ));
    assert!(matches!(
        t.handle(&cmd(&["set", "sshd", "maxretry", "-3"])),
        Err(CommandError::Value(_))
    ));
    assert!(matches!(
        t.handle(&cmd(&["sleep", "nan"])),
        Err(CommandError::Value(_))
    ));
    assert!(matches!(
        t.handle(&cmd(&["set", "loglevel", "LOUD"])),
        Err(CommandError::Value(_))
    ));
    assert!(t.handle(&[Value::List(vec![]), Value::None]).is_err());
    assert!(matches!(
        t.handle(&cmd(&["set", "sshd", "banip", ""])),
        Err(CommandError::Value(_))
    ));
    assert!(matches!(
        t.handle(&cmd(&["add", "new", "auto"])),
        Err(CommandError::Failed(_))
    ));
    // stop asks the main loop
    assert_eq!(t.handle(&cmd(&["stop"])).unwrap(), Value::None);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(1)).unwrap(),
        f2b_server::daemon::Event::Stop
    );
    // stop of one jail
    assert_eq!(t.handle(&cmd(&["stop", "apache"])).unwrap(), Value::None);
    assert_eq!(server.jail_names(), vec!["sshd".to_string()]);
    server.stop_all();
}
