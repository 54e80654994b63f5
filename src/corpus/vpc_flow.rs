//! Synthetic VPC Flow Logs files.

use std::fmt::Write;

use super::{HEX, Rng};

/// A default-format (v2) file with its header line.
pub(super) fn default_file(rng: &mut Rng, account: &str, start: i64, lines: usize) -> String {
    let mut text = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n",
    );
    let interfaces: Vec<String> = (0..4).map(|_| format!("eni-{}", rng.text(HEX, 17))).collect();
    for _ in 0..lines {
        let interface = rng.pick(&interfaces).clone();
        let begin = start + rng.below(240) as i64;
        let finish = begin + 1 + rng.below(59) as i64;
        if rng.below(25) == 0 {
            writeln!(text, "2 {account} {interface} - - - - - - - {begin} {finish} - NODATA")
                .expect("writing to a String");
            continue;
        }
        let (protocol, port) = *rng.pick(&[(6, 443), (6, 22), (6, 3389), (17, 53), (1, 0), (6, 5432)]);
        let action = if rng.below(6) == 0 { "REJECT" } else { "ACCEPT" };
        writeln!(
            text,
            "2 {account} {interface} 10.{}.{}.{} {}.{}.{}.{} {} {port} {protocol} {} {} {begin} {finish} {action} OK",
            rng.below(256),
            rng.below(256),
            1 + rng.below(254),
            1 + rng.below(222),
            rng.below(256),
            rng.below(256),
            1 + rng.below(254),
            if protocol == 1 { 0 } else { 1024 + rng.below(64_000) },
            1 + rng.below(500),
            40 + rng.below(900_000),
        )
        .expect("writing to a String");
    }
    text
}

/// A custom-format (v5) file with its header line.
pub(super) fn custom_v5_file(rng: &mut Rng, account: &str, region: &str, start: i64, lines: usize) -> String {
    let mut text = String::from(
        "version account-id vpc-id subnet-id instance-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags type pkt-srcaddr pkt-dstaddr region az-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path\n",
    );
    for index in 0..lines {
        let begin = start + 10 * index as i64;
        let service = if index % 2 == 0 { "S3" } else { "-" };
        writeln!(
            text,
            "5 {account} vpc-{} subnet-{} i-{} eni-{} 10.0.1.{} 52.94.76.{} {} 443 6 {} {} {begin} {} ACCEPT OK 19 IPv4 10.0.1.5 52.94.76.10 {region} use1-az1 - {service} egress 8",
            rng.text(HEX, 8),
            rng.text(HEX, 8),
            rng.text(HEX, 17),
            rng.text(HEX, 17),
            1 + rng.below(254),
            1 + rng.below(254),
            1024 + rng.below(64_000),
            1 + rng.below(100),
            40 + rng.below(90_000),
            begin + 60,
        )
        .expect("writing to a String");
    }
    text
}
