//! Hostile input: random and mutated pickles never panic, and whatever decodes re-encodes to
//! the same value.

use f2b_protocol::frame::{FrameReader, Incoming};
use f2b_protocol::pickle::{dumps, loads, Mode};
use f2b_protocol::Value;

/// xorshift64*: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const OPCODES: &[u8] = b"\x80\x95.(012NIJKMLFGTUXBC]ael)t\x85\x86\x87}dsu\x8f\x90\x91pqr\x94ghjc\x93Rb\x88\x89\x8a\x8b\x8c\x8d\x8e\x96";

fn check(data: &[u8]) {
    for mode in [Mode::Data, Mode::Reply] {
        if let Ok(v) = loads(data, mode) {
            if !has_nan(&v) {
                assert_eq!(
                    loads(&dumps(&v), Mode::Reply).as_ref(),
                    Ok(&v),
                    "re-encoding {data:?}"
                );
            }
            let _ = v.py_str();
        }
    }
    let _ = f2b_protocol::decode_request(data);
    let _ = f2b_protocol::decode_reply(data);
}

fn has_nan(v: &Value) -> bool {
    match v {
        Value::Float(f) => f.is_nan(),
        Value::List(x) | Value::Tuple(x) | Value::Set(x) => x.iter().any(has_nan),
        Value::Dict(p) => p.iter().any(|(k, v)| has_nan(k) || has_nan(v)),
        _ => false,
    }
}

fn sample() -> Value {
    Value::Tuple(vec![
        Value::Int(0),
        Value::List(vec![
            Value::Tuple(vec![
                Value::str("Filter"),
                Value::List(vec![Value::Tuple(vec![
                    Value::str("File list"),
                    Value::List(vec![Value::str("/var/log/auth.log")]),
                ])]),
            ]),
            Value::Dict(vec![(
                Value::str("k"),
                Value::Set(vec![
                    Value::Int(70000),
                    Value::Float(0.5),
                    Value::None,
                    Value::Bool(true),
                ]),
            )]),
            Value::Exception {
                class: "builtins.ValueError".into(),
                message: "x".into(),
            },
            Value::Bytes(b"ab".to_vec()),
        ]),
    ])
}

#[test]
fn random_opcode_soup_never_panics() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..50_000 {
        let len = rng.below(40);
        let data: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(3) == 0 {
                    rng.next() as u8
                } else {
                    OPCODES[rng.below(OPCODES.len())]
                }
            })
            .collect();
        check(&data);
    }
}

#[test]
fn mutated_valid_pickles_never_panic() {
    let base = dumps(&sample());
    let mut rng = Rng(0xfeed_beef_0000_0001);
    for _ in 0..50_000 {
        let mut data = base.clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 => {
                    let i = rng.below(data.len());
                    data[i] = rng.next() as u8;
                }
                1 => {
                    let i = rng.below(data.len());
                    data.insert(i, OPCODES[rng.below(OPCODES.len())]);
                }
                2 if data.len() > 1 => {
                    let i = rng.below(data.len());
                    data.remove(i);
                }
                _ => {
                    let i = rng.below(data.len());
                    data.truncate(i);
                }
            }
            if data.is_empty() {
                break;
            }
        }
        check(&data);
    }
}

#[test]
fn frame_reader_survives_random_streams() {
    let mut rng = Rng(42);
    let good = f2b_protocol::encode_request(&[Value::str("status"), Value::str("sshd")]);
    for _ in 0..2_000 {
        let mut stream = Vec::new();
        for _ in 0..rng.below(6) {
            match rng.below(3) {
                0 => stream.extend_from_slice(&good),
                1 => stream.extend((0..rng.below(30)).map(|_| rng.next() as u8)),
                _ => stream.extend_from_slice(f2b_protocol::END),
            }
        }
        let mut reader = FrameReader::with_max(Mode::Data, 4096);
        let mut input = stream.as_slice();
        let mut goods = 0;
        while let Ok(Some(msg)) = reader.read_from(&mut input) {
            if let Incoming::Message(Ok(Value::List(words))) = msg {
                if words == vec![Value::str("status"), Value::str("sshd")] {
                    goods += 1;
                }
            }
        }
        let _ = goods;
    }
    // Back-to-back good messages are all found.
    let stream: Vec<u8> = good.iter().copied().cycle().take(good.len() * 5).collect();
    let mut reader = FrameReader::new(Mode::Data);
    let mut input = stream.as_slice();
    let mut n = 0;
    while let Ok(Some(Incoming::Message(Ok(_)))) = reader.read_from(&mut input) {
        n += 1;
    }
    assert_eq!(n, 5);
}
