//! The control-socket decoder on arbitrary bytes, as a peer could send them: request and reply
//! pickles, and the frame reader fed in two chunks. What decodes must re-encode to bytes that
//! decode to the same value (the daemon answers with values it decoded).
#![no_main]
use f2b_protocol::frame::FrameReader;
use f2b_protocol::pickle::Mode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = f2b_protocol::decode_request(data) {
        let bytes = f2b_protocol::encode_request(&cmd);
        let again = f2b_protocol::decode_request(&bytes).expect("re-encoded request decodes");
        // compared as bytes: a NaN float is not equal to itself
        assert_eq!(f2b_protocol::encode_request(&again), bytes);
    }
    if let Ok((code, value)) = f2b_protocol::decode_reply(data) {
        let bytes = f2b_protocol::encode_reply(code, &value);
        let (c2, v2) = f2b_protocol::decode_reply(&bytes).expect("re-encoded reply decodes");
        assert_eq!(f2b_protocol::encode_reply(c2, &v2), bytes);
    }
    let cut = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let mut reader = FrameReader::with_max(Mode::Data, 4096);
    for chunk in [&data[..cut], &data[cut..]] {
        if reader.push(chunk).is_err() {
            return;
        }
        while let Some(msg) = reader.take() {
            std::hint::black_box(msg);
        }
    }
});
