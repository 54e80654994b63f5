//! The test suite's fault-injecting proxy as a program, for `scripts/chaos.sh`:
//! `cargo run --example fault_proxy -- UPSTREAM_URL FAULT_PERCENT SEED` prints its URL and runs
//! until killed.

#[path = "../tests/common/fault_proxy.rs"]
#[allow(dead_code, unreachable_pub)]
mod fault_proxy;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, upstream, percent, seed] = &args[..] else {
        eprintln!("usage: fault_proxy UPSTREAM_URL FAULT_PERCENT SEED");
        std::process::exit(2);
    };
    let proxy =
        fault_proxy::FaultProxy::start(upstream, percent.parse().unwrap_or(10), seed.parse().unwrap_or(1));
    println!("{}", proxy.url);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(10));
        eprintln!("fault proxy: {:?}", proxy.counts());
    }
}
