//! A VPC Flow Logs line → the contract event with SIEM metadata (design.md §6).
//!
//! The seed product's mapping, kept exactly: `action`→`action`+`tag1`, `account-id`→`account`,
//! `bytes`, `dstaddr`→`dip`, `dstport`→`dport`, `interface-id`→`dinterface`,
//! `log-status`→`status`+`tag2`, `packets`, `protocol`→`protnum`, `srcaddr`→`sip`,
//! `srcport`→`sport`, `version`, plus `start` and `end`. Every other field of a custom format
//! keeps its AWS name with `-` turned into `_`. `-` means absent; integer fields become JSON
//! numbers. The event time is `start` (else `end`, else the time of collection).

use super::json::{self, SliceWriter};
use super::{EventBatch, ObjectContext, UnixText, push_envelope_start};
use crate::decode::LogType;
use crate::decode::vpc_flow::FlowLine;

/// A line whose values do not fit the schema.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: field {field} is {value:?}, not a whole number; line skipped")]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// The AWS field name.
    pub field: String,
    /// The offending value.
    pub value: String,
}

/// How one field of the file's format is written into `metadata`.
#[derive(Debug)]
struct FieldPlan {
    aws_name: String,
    /// `"name":` (plus the opening quote of the value for text fields), written in one copy.
    member: Member,
    /// The same for the copy (`tag1`, `tag2`), if any.
    copy_member: Option<Member>,
    integer: bool,
}

impl FieldPlan {
    fn not_an_integer(&self, line: &FlowLine<'_>, span: std::ops::Range<usize>) -> LineError {
        LineError { line: line.number, field: self.aws_name.clone(), value: line.text[span].to_string() }
    }

    /// The most a plain line's member can take besides its value (written once or twice):
    /// a comma, the prefix, the closing quote, and the same again for the copy.
    fn room(&self) -> usize {
        let member = |member: &Member| 2 + member.bytes.len();
        member(&self.member) + self.copy_member.as_ref().map_or(0, member)
    }
}

/// A member prefix, `"name":` (plus `"` for text), kept in a padded array when it is short so
/// that writing it is one fixed-size copy (see [`SliceWriter::put_padded`]).
#[derive(Debug)]
struct Member {
    padded: [u8; json::PADDED],
    bytes: Vec<u8>,
}

impl Member {
    fn new(name: &str, integer: bool) -> Self {
        debug_assert!(json::is_plain_name(name));
        let mut bytes = format!("\"{name}\":").into_bytes();
        if !integer {
            bytes.push(b'"');
        }
        let mut padded = [0; json::PADDED];
        if let Some(start) = padded.get_mut(..bytes.len()) {
            start.copy_from_slice(&bytes);
        }
        Member { padded, bytes }
    }

    fn put_to(&self, writer: &mut SliceWriter<'_>) {
        if self.bytes.len() <= json::PADDED {
            writer.put_padded(&self.padded, self.bytes.len());
        } else {
            writer.put_slice(&self.bytes);
        }
    }

    /// Writes `"name":"value"`, escaping the value (the prefix ends with the opening quote).
    fn push_quoted_to(&self, out: &mut Vec<u8>, value: &str) {
        out.extend_from_slice(&self.bytes[..self.bytes.len() - 1]);
        json::push_str(out, value);
    }
}

/// Normalizes the lines of one flow-log file, whose header fixed the field order.
#[derive(Debug)]
pub struct FlowNormalizer {
    plans: Vec<FieldPlan>,
    start: Option<usize>,
    end: Option<usize>,
    /// The day (Unix seconds / 86 400) of the last time formatted, and that time's text.
    last_time: Option<(i64, UnixText)>,
    /// The length of the last event, to size the next one's buffer in one allocation.
    last_length: usize,
    /// Room for a plain line's metadata besides twice its values (see [`FieldPlan::room`]).
    plain_room: usize,
}

/// The AWS fields that are integers (spec §3.2); they are written as JSON numbers.
const INTEGER_FIELDS: &[&str] = &[
    "version",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "tcp-flags",
    "traffic-path",
    "encryption-status",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];

impl FlowNormalizer {
    /// A normalizer for a file with these field names (from its header or the default format).
    pub fn new(fields: &[String]) -> Self {
        let plans = fields
            .iter()
            .map(|aws_name| {
                let (metadata_name, also_as) = match aws_name.as_str() {
                    "account-id" => ("account".to_string(), None),
                    "interface-id" => ("dinterface".to_string(), None),
                    "srcaddr" => ("sip".to_string(), None),
                    "dstaddr" => ("dip".to_string(), None),
                    "srcport" => ("sport".to_string(), None),
                    "dstport" => ("dport".to_string(), None),
                    "protocol" => ("protnum".to_string(), None),
                    "action" => ("action".to_string(), Some("tag1")),
                    "log-status" => ("status".to_string(), Some("tag2")),
                    other => (other.replace('-', "_"), None),
                };
                let integer = INTEGER_FIELDS.contains(&aws_name.as_str());
                FieldPlan {
                    aws_name: aws_name.clone(),
                    member: Member::new(&metadata_name, integer),
                    copy_member: also_as.map(|copy| Member::new(copy, false)),
                    integer,
                }
            })
            .collect::<Vec<FieldPlan>>();
        let plain_room = plans.iter().map(FieldPlan::room).sum::<usize>() + json::SLACK;
        FlowNormalizer {
            plain_room,
            plans,
            start: fields.iter().position(|f| f == "start"),
            end: fields.iter().position(|f| f == "end"),
            last_time: None,
            last_length: 0,
        }
    }

    /// Normalizes one data line of the file.
    pub fn normalize(
        &mut self,
        context: &ObjectContext,
        line: &FlowLine<'_>,
        batch: &mut EventBatch,
    ) -> Result<(), LineError> {
        let seconds = [self.start, self.end]
            .into_iter()
            .flatten()
            .find_map(|index| whole_number(line.text.as_bytes(), line.spans()[index].clone()))
            .unwrap_or(context.ingest_time);
        let id = context.positional_id(line.number);
        let time = self.time_text(seconds);

        let out = batch.line();
        out.reserve(self.last_length.max(3 * line.text.len() + 256) + 64);
        let start = out.len();
        push_envelope_start(out, id.as_bytes(), LogType::VpcFlowLogs, &time.0);
        context.push_origin(out, "line", line.number);
        out.extend_from_slice(b",\"metadata\":{");
        let written =
            if line.plain { self.push_plain_metadata(out, line) } else { self.push_metadata(out, line) };
        if let Err(error) = written {
            batch.discard_line();
            return Err(error);
        }
        let out = batch.line();
        out.push(b'}');
        out.extend_from_slice(b",\"raw\":");
        if line.plain {
            out.push(b'"');
            out.extend_from_slice(line.text.as_bytes());
            out.push(b'"');
        } else {
            json::push_str(out, line.text);
        }
        out.push(b'}');
        self.last_length = out.len() - start;
        batch.finish_line(id.as_bytes(), LogType::VpcFlowLogs, seconds);
        Ok(())
    }

    /// The metadata members of a plain line (nothing to escape): fixed-size copies into room
    /// reserved once, see [`SliceWriter`].
    fn push_plain_metadata(&self, out: &mut Vec<u8>, line: &FlowLine<'_>) -> Result<(), LineError> {
        let text = line.text.as_bytes();
        let start = out.len();
        out.resize(start + self.plain_room + 2 * text.len(), 0);
        let mut writer = SliceWriter::new(&mut out[start..]);
        for (plan, span) in self.plans.iter().zip(line.spans()) {
            let value = &text[span.clone()];
            if value == b"-" {
                continue;
            }
            if writer.written() > 0 {
                writer.put(b',');
            }
            if plan.integer && !is_json_integer_at(text, span.clone()) {
                return Err(plan.not_an_integer(line, span.clone()));
            }
            plan.member.put_to(&mut writer);
            writer.put_short(text, span.clone());
            if plan.integer {
                continue;
            }
            writer.put(b'"');
            if let Some(copy) = &plan.copy_member {
                writer.put(b',');
                copy.put_to(&mut writer);
                writer.put_short(text, span.clone());
                writer.put(b'"');
            }
        }
        let end = start + writer.written();
        out.truncate(end);
        Ok(())
    }

    /// The metadata members of a line with characters to escape.
    fn push_metadata(&self, out: &mut Vec<u8>, line: &FlowLine<'_>) -> Result<(), LineError> {
        let mut first = true;
        for (plan, span) in self.plans.iter().zip(line.spans()) {
            let value = &line.text[span.clone()];
            if value == "-" {
                continue;
            }
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            if plan.integer {
                if !is_json_integer(value.as_bytes()) {
                    return Err(plan.not_an_integer(line, span.clone()));
                }
                out.extend_from_slice(&plan.member.bytes);
                out.extend_from_slice(value.as_bytes());
                continue;
            }
            plan.member.push_quoted_to(out, value);
            if let Some(copy) = &plan.copy_member {
                out.push(b',');
                copy.push_quoted_to(out, value);
            }
        }
        Ok(())
    }

    /// The lines of a file fall on one or two days: work the date out once per day.
    fn time_text(&mut self, seconds: i64) -> UnixText {
        let day = seconds.div_euclid(86_400);
        match self.last_time {
            Some((cached_day, text)) if cached_day == day => text.with_time_of_day(seconds),
            _ => {
                let text = UnixText::of(seconds);
                self.last_time = Some((day, text));
                text
            }
        }
    }
}

/// A whole number that can be copied into JSON as it is: 1 to 19 digits, no leading zero.
fn is_json_integer(bytes: &[u8]) -> bool {
    (1..=19).contains(&bytes.len())
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes[0] != b'0' || bytes.len() == 1)
}

/// Sixteen bytes, each the given value, as one number (byte 0 lowest).
const fn bytes_16(byte: u8) -> u128 {
    u128::from_le_bytes([byte; 16])
}

/// [`is_json_integer`] for `text[range]`. A value of up to sixteen bytes with sixteen bytes of
/// `text` from its start is checked in one step on a 128-bit number, instead of byte by byte
/// with a branch each: the bytes past the value are replaced by `'0'`, then every byte must have
/// high nibble 3 and stay there when 6 is added (`0x30`–`0x39`).
fn is_json_integer_at(text: &[u8], range: std::ops::Range<usize>) -> bool {
    let len = range.len();
    let window = text.get(range.start..range.start + 16).and_then(|window| <[u8; 16]>::try_from(window).ok());
    match window {
        Some(window) if (1..=16).contains(&len) => {
            let keep = u128::MAX >> (8 * (16 - len));
            let value = (u128::from_le_bytes(window) & keep) | (bytes_16(b'0') & !keep);
            let high = bytes_16(0xF0);
            let digits =
                value & high == bytes_16(0x30) && value.wrapping_add(bytes_16(6)) & high == bytes_16(0x30);
            digits && (window[0] != b'0' || len == 1)
        }
        _ => is_json_integer(&text[range]),
    }
}

/// The value of `text[range]` when it is a whole number as [`is_json_integer`] accepts it.
fn whole_number(text: &[u8], range: std::ops::Range<usize>) -> Option<i64> {
    if !is_json_integer_at(text, range.clone()) {
        return None;
    }
    let bytes = &text[range];
    if bytes.len() > 18 {
        return std::str::from_utf8(bytes).ok()?.parse().ok();
    }
    Some(bytes.iter().fold(0, |number, &digit| number * 10 + i64::from(digit - b'0')))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use serde_json::{Value, json};

    use super::*;
    use crate::decode::vpc_flow::FlowReader;

    fn normalize_file(text: &str) -> Vec<Result<Value, String>> {
        let context = ObjectContext::new("flows", Some("b"), "AWSLogs/1/vpcflowlogs/f.log.gz", 1_700_000_000);
        let mut reader = FlowReader::new(Cursor::new(text.as_bytes().to_vec()));
        let mut normalizer = None;
        let mut results = Vec::new();
        // One batch for the whole file, as the pipeline does: a refused line leaves no trace.
        let mut batch = EventBatch::default();
        loop {
            match reader.next_line() {
                Ok(None) => break,
                Err(error) => results.push(Err(error.to_string())),
                Ok(Some(line)) => {
                    let normalizer = normalizer.get_or_insert_with(|| FlowNormalizer::new(line.fields()));
                    results.push(
                        normalizer
                            .normalize(&context, &line, &mut batch)
                            .map(|()| {
                                let event = batch.get(batch.len() - 1);
                                let value: Value = serde_json::from_slice(event.json).unwrap();
                                assert_eq!(value["event_id"], json!(event.id));
                                value
                            })
                            .map_err(|error| error.to_string()),
                    );
                }
            }
        }
        let lines: Vec<Value> = batch
            .ndjson()
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        assert_eq!(lines, results.iter().filter_map(|result| result.clone().ok()).collect::<Vec<_>>());
        results
    }

    const V5_HEADER: &str = "version account-id vpc-id subnet-id instance-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags type pkt-srcaddr pkt-dstaddr region az-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";

    #[test]
    fn v2_default_format_golden() {
        let results = normalize_file(
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n",
        );
        let event = results[0].as_ref().unwrap();
        assert_eq!(event["log_type"], "VPCFlowLogs");
        assert_eq!(event["time"], "2014-12-14T04:06:50Z");
        assert_eq!(
            event["origin"],
            json!({"source": "flows", "bucket": "b", "key": "AWSLogs/1/vpcflowlogs/f.log.gz", "line": 1})
        );
        assert_eq!(
            event["metadata"],
            json!({"version": 2, "account": "123456789010", "dinterface": "eni-1235b8ca123456789",
                "sip": "172.31.16.139", "dip": "172.31.16.21", "sport": 20641, "dport": 22, "protnum": 6,
                "packets": 20, "bytes": 4249, "start": 1418530010, "end": 1418530070,
                "action": "ACCEPT", "tag1": "ACCEPT", "status": "OK", "tag2": "OK"})
        );
        assert_eq!(
            event["raw"],
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
        );
    }

    #[test]
    fn nodata_keeps_its_status_and_drops_dashes() {
        let results = normalize_file("2 123456789010 eni-1 - - - - - - - 1431280876 1431280934 - NODATA\n");
        assert_eq!(
            results[0].as_ref().unwrap()["metadata"],
            json!({"version": 2, "account": "123456789010", "dinterface": "eni-1", "start": 1431280876,
                "end": 1431280934, "status": "NODATA", "tag2": "NODATA"})
        );
    }

    #[test]
    fn v5_custom_format_golden() {
        let text = format!(
            "{V5_HEADER}\n5 123456789012 vpc-0a1 subnet-0b2 i-0c3 eni-0d4 10.0.1.5 52.94.76.10 49152 443 6 12 3400 1700000000 1700000060 ACCEPT OK 19 IPv4 10.0.1.5 52.94.76.10 us-east-1 use1-az1 - S3 egress 8\n"
        );
        let results = normalize_file(&text);
        let event = results[0].as_ref().unwrap();
        assert_eq!(event["origin"]["line"], 2);
        assert_eq!(
            event["metadata"],
            json!({"version": 5, "account": "123456789012", "vpc_id": "vpc-0a1", "subnet_id": "subnet-0b2",
                "instance_id": "i-0c3", "dinterface": "eni-0d4", "sip": "10.0.1.5", "dip": "52.94.76.10",
                "sport": 49152, "dport": 443, "protnum": 6, "packets": 12, "bytes": 3400, "start": 1700000000,
                "end": 1700000060, "action": "ACCEPT", "tag1": "ACCEPT", "status": "OK", "tag2": "OK",
                "tcp_flags": 19, "type": "IPv4", "pkt_srcaddr": "10.0.1.5", "pkt_dstaddr": "52.94.76.10",
                "region": "us-east-1", "az_id": "use1-az1", "pkt_dst_aws_service": "S3",
                "flow_direction": "egress", "traffic_path": 8})
        );
    }

    #[test]
    fn v6_transit_gateway_v7_ecs_and_v8_fields_keep_their_names() {
        let header = "version resource-type account-id tgw-id tgw-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status packets-lost-no-route packets-lost-blackhole ecs-cluster-name ecs-task-id reject-reason";
        let line = "8 TransitGateway 123456789012 tgw-0a1 tgw-attach-0b2 10.0.0.1 10.1.0.1 1234 443 6 10 800 1700000000 1700000060 OK 3 0 prod-cluster 0f1e2d - ";
        let results = normalize_file(&format!("{header}\n{line}\n"));
        assert_eq!(
            results[0].as_ref().unwrap()["metadata"],
            json!({"version": 8, "resource_type": "TransitGateway", "account": "123456789012", "tgw_id": "tgw-0a1",
                "tgw_attachment_id": "tgw-attach-0b2", "sip": "10.0.0.1", "dip": "10.1.0.1", "sport": 1234, "dport": 443,
                "protnum": 6, "packets": 10, "bytes": 800, "start": 1700000000, "end": 1700000060, "status": "OK",
                "tag2": "OK", "packets_lost_no_route": 3, "packets_lost_blackhole": 0,
                "ecs_cluster_name": "prod-cluster", "ecs_task_id": "0f1e2d"})
        );
    }

    /// A Transit Gateway flow log in AWS's default Transit Gateway format (every field, in the
    /// order AWS writes them), read as text and as Parquet.
    #[test]
    fn v6_transit_gateway_default_format_golden_in_text_and_parquet() {
        let header = "version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status type packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags region flow-direction pkt-src-aws-service pkt-dst-aws-service";
        let line = "6 TransitGatewayAttachment 123456789012 tgw-0123456789abcdef0 tgw-attach-0123456789abcdef0 123456789012 210987654321 vpc-0aaaaaaaaaaaaaaaa vpc-0bbbbbbbbbbbbbbbb subnet-0aaaaaaaaaaaaaaaa subnet-0bbbbbbbbbbbbbbbb eni-0aaaaaaaaaaaaaaaa eni-0bbbbbbbbbbbbbbbb use2-az1 use2-az2 tgw-attach-0fedcba9876543210 10.0.1.5 10.1.2.7 49152 443 6 12 4800 1700000000 1700000060 OK IPv4 0 0 0 0 19 us-east-2 ingress - -";
        let text = format!("{header}\n{line}\n");
        let expected = json!({"version": 6, "resource_type": "TransitGatewayAttachment", "account": "123456789012",
            "tgw_id": "tgw-0123456789abcdef0", "tgw_attachment_id": "tgw-attach-0123456789abcdef0",
            "tgw_src_vpc_account_id": "123456789012", "tgw_dst_vpc_account_id": "210987654321",
            "tgw_src_vpc_id": "vpc-0aaaaaaaaaaaaaaaa", "tgw_dst_vpc_id": "vpc-0bbbbbbbbbbbbbbbb",
            "tgw_src_subnet_id": "subnet-0aaaaaaaaaaaaaaaa", "tgw_dst_subnet_id": "subnet-0bbbbbbbbbbbbbbbb",
            "tgw_src_eni": "eni-0aaaaaaaaaaaaaaaa", "tgw_dst_eni": "eni-0bbbbbbbbbbbbbbbb", "tgw_src_az_id": "use2-az1",
            "tgw_dst_az_id": "use2-az2", "tgw_pair_attachment_id": "tgw-attach-0fedcba9876543210",
            "sip": "10.0.1.5", "dip": "10.1.2.7", "sport": 49152, "dport": 443, "protnum": 6, "packets": 12,
            "bytes": 4800, "start": 1700000000, "end": 1700000060, "status": "OK", "tag2": "OK", "type": "IPv4",
            "packets_lost_no_route": 0, "packets_lost_blackhole": 0, "packets_lost_mtu_exceeded": 0,
            "packets_lost_ttl_expired": 0, "tcp_flags": 19, "region": "us-east-2", "flow_direction": "ingress"});
        let from_text = normalize_file(&text);
        assert_eq!(from_text[0].as_ref().unwrap()["metadata"], expected);
        let parquet = crate::corpus::parquet::from_text(&text, 10).unwrap();
        let mut as_text = String::new();
        std::io::Read::read_to_string(
            &mut crate::decode::parquet::ParquetText::new(parquet).unwrap(),
            &mut as_text,
        )
        .unwrap();
        assert_eq!(normalize_file(&as_text), from_text, "the same event from Parquet");
    }

    #[test]
    fn ids_are_stable_and_differ_per_line() {
        let line = "2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 1 1418530010 1418530070 ACCEPT OK\n";
        let first = normalize_file(&line.repeat(2));
        let second = normalize_file(&line.repeat(2));
        let id = |r: &Result<Value, String>| r.as_ref().unwrap()["event_id"].clone();
        assert_eq!(id(&first[0]), id(&second[0]));
        assert_ne!(id(&first[0]), id(&first[1]));
    }

    #[test]
    fn a_non_number_in_an_integer_field_is_reported() {
        let results =
            normalize_file("2 1 eni-1 1.1.1.1 2.2.2.2 http 2 6 1 1 1418530010 1418530070 ACCEPT OK\n");
        assert_eq!(
            results[0].as_ref().unwrap_err(),
            "line 1: field srcport is \"http\", not a whole number; line skipped"
        );
    }

    #[test]
    fn time_falls_back_to_end_then_ingest_time() {
        let results = normalize_file(
            "2 1 eni-1 - - - - - - - - 1431280934 - SKIPDATA\n2 1 eni-1 - - - - - - - - - - SKIPDATA\n",
        );
        assert_eq!(results[0].as_ref().unwrap()["time"], "2015-05-10T18:02:14Z");
        assert_eq!(results[1].as_ref().unwrap()["time"], "2023-11-14T22:13:20Z");
    }

    #[test]
    fn integers_checked_in_one_step_agree_with_the_byte_by_byte_check() {
        let mut values: Vec<String> =
            ["0", "7", "00", "01", "10", "443", "-1", "+1", "1e3", "1.5", "", " 1", "9/", "0:"]
                .map(String::from)
                .to_vec();
        values.extend((1..=20).map(|len| "9".repeat(len)));
        values.extend((1..=20).map(|len| format!("1{}", "0".repeat(len - 1))));
        // Every byte value in every position of a 12-byte number.
        for position in 0..12 {
            for byte in 0..=255u8 {
                let mut value = b"179349160312".to_vec();
                value[position] = byte;
                values.push(String::from_utf8_lossy(&value).into_owned());
            }
        }
        for value in &values {
            // The value alone (no room for a window), then followed by more text (a window).
            for text in [value.clone(), format!("{value} 1793491603 ACCEPT OK padding")] {
                let range = 0..value.len();
                let expected = is_json_integer(value.as_bytes());
                assert_eq!(
                    is_json_integer_at(text.as_bytes(), range.clone()),
                    expected,
                    "{value:?} in {text:?}"
                );
                let number = whole_number(text.as_bytes(), range);
                assert_eq!(number, expected.then(|| value.parse::<i64>().ok()).flatten(), "{value:?}");
            }
        }
    }
}
