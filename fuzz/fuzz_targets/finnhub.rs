#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| signal_sentinel::fuzzing::finnhub(data));
