/**
 * Flow feature names and header normalisation.
 *
 * CICFlowMeter files in the wild spell the same column many ways: leading spaces
 * (` Flow Duration`), any case, pandas' `.1` suffix on duplicates, and the CIC-IDS2017
 * "improved" re-extraction renamed a dozen columns (`Total Fwd Packet`, `Dst Port`, ...).
 * Every name is reduced to a canonical key, and the keys of renamed columns are mapped onto
 * the original CICFlowMeter key, so one feature list matches every layout.
 */

/** The prototype's 25 flow features, in original CICFlowMeter spelling: the default feature set. */
export const DEFAULT_FEATURES: readonly string[] = Object.freeze([
  "Flow Duration",
  "Total Fwd Packets",
  "Total Backward Packets",
  "Flow Bytes/s",
  "Flow Packets/s",
  "Fwd Packet Length Mean",
  "Bwd Packet Length Mean",
  "Flow IAT Mean",
  "Active Mean",
  "Idle Mean",
  "SYN Flag Count",
  "Bwd Packets/s",
  "Total Length of Fwd Packets",
  "Total Length of Bwd Packets",
  "Flow IAT Std",
  "Flow IAT Min",
  "Fwd IAT Std",
  "Bwd IAT Std",
  "Packet Length Std",
  "Packet Length Variance",
  "ACK Flag Count",
  "PSH Flag Count",
  "RST Flag Count",
  "Subflow Fwd Packets",
  "Subflow Bwd Packets",
]);

/** Canonical key of the label column. */
export const LABEL_KEY = "label";

/** The label value of benign flows in every CIC dataset (compared case-insensitively). */
export const BENIGN_LABEL = "BENIGN";

/**
 * Renamed columns of the CIC-IDS2017 "improved" layout (Engelen et al., 2021) and of
 * CICFlowMeter 4, keyed by their canonical key, pointing at the original column's key.
 */
const KEY_ALIASES: Readonly<Record<string, string>> = {
  totalfwdpacket: "totalfwdpackets",
  totalbwdpackets: "totalbackwardpackets",
  totlenfwdpkts: "totallengthoffwdpackets",
  totlenbwdpkts: "totallengthofbwdpackets",
  totfwdpkts: "totalfwdpackets",
  totbwdpkts: "totalbackwardpackets",
  totallengthoffwdpacket: "totallengthoffwdpackets",
  totallengthofbwdpacket: "totallengthofbwdpackets",
  packetlengthmin: "minpacketlength",
  packetlengthmax: "maxpacketlength",
  fwdinitwinbytes: "initwinbytesforward",
  bwdinitwinbytes: "initwinbytesbackward",
  dstport: "destinationport",
  srcport: "sourceport",
  dstip: "destinationip",
  srcip: "sourceip",
  fwdsegmentsizeavg: "avgfwdsegmentsize",
  bwdsegmentsizeavg: "avgbwdsegmentsize",
  cwrflagcount: "cweflagcount",
  fwdbytesbulkavg: "fwdavgbytesbulk",
  fwdpacketbulkavg: "fwdavgpacketsbulk",
  fwdbulkrateavg: "fwdavgbulkrate",
  bwdbytesbulkavg: "bwdavgbytesbulk",
  bwdpacketbulkavg: "bwdavgpacketsbulk",
  bwdbulkrateavg: "bwdavgbulkrate",
  fwdactdatapkts: "actdatapktfwd",
  fwdsegsizemin: "minsegsizeforward",
  flowbytss: "flowbytess",
  flowpktss: "flowpacketss",
  bwdpktss: "bwdpacketss",
  fwdpktss: "fwdpacketss",
  synflagcnt: "synflagcount",
  ackflagcnt: "ackflagcount",
  pshflagcnt: "pshflagcount",
  rstflagcnt: "rstflagcount",
  subflowfwdpkts: "subflowfwdpackets",
  subflowbwdpkts: "subflowbwdpackets",
  pktlenstd: "packetlengthstd",
  pktlenvar: "packetlengthvariance",
};

/**
 * Reduces a header name to the key it is matched by: trimmed, lower-cased, pandas' `.N`
 * duplicate suffix removed, every non-alphanumeric character dropped, renamed columns mapped
 * to their original name. `" Fwd Header Length.1"` and `"Fwd Header Length"` share a key.
 */
export function canonicalColumnKey(name: string): string {
  const key = name
    .trim()
    .replace(/\.\d+$/, "")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "");
  return KEY_ALIASES[key] ?? key;
}

/**
 * The header line of the original CIC-IDS2017 GeneratedLabelledFlows files, byte for byte:
 * 85 names, most with a leading space, and ` Fwd Header Length` twice. The layout the generator
 * writes and the flow meter emits.
 */
export const ORIGINAL_FLOW_CSV_HEADER =
  "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow Duration, Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd Packets, Fwd Packet Length Max, Fwd Packet Length Min, Fwd Packet Length Mean, Fwd Packet Length Std,Bwd Packet Length Max, Bwd Packet Length Min, Bwd Packet Length Mean, Bwd Packet Length Std,Flow Bytes/s, Flow Packets/s, Flow IAT Mean, Flow IAT Std, Flow IAT Max, Flow IAT Min,Fwd IAT Total, Fwd IAT Mean, Fwd IAT Std, Fwd IAT Max, Fwd IAT Min,Bwd IAT Total, Bwd IAT Mean, Bwd IAT Std, Bwd IAT Max, Bwd IAT Min,Fwd PSH Flags, Bwd PSH Flags, Fwd URG Flags, Bwd URG Flags, Fwd Header Length, Bwd Header Length,Fwd Packets/s, Bwd Packets/s, Min Packet Length, Max Packet Length, Packet Length Mean, Packet Length Std, Packet Length Variance,FIN Flag Count, SYN Flag Count, RST Flag Count, PSH Flag Count, ACK Flag Count, URG Flag Count, CWE Flag Count, ECE Flag Count, Down/Up Ratio, Average Packet Size, Avg Fwd Segment Size, Avg Bwd Segment Size, Fwd Header Length,Fwd Avg Bytes/Bulk, Fwd Avg Packets/Bulk, Fwd Avg Bulk Rate, Bwd Avg Bytes/Bulk, Bwd Avg Packets/Bulk,Bwd Avg Bulk Rate,Subflow Fwd Packets, Subflow Fwd Bytes, Subflow Bwd Packets, Subflow Bwd Bytes,Init_Win_bytes_forward, Init_Win_bytes_backward, act_data_pkt_fwd, min_seg_size_forward,Active Mean, Active Std, Active Max, Active Min,Idle Mean, Idle Std, Idle Max, Idle Min, Label";

/** Number of columns in {@link ORIGINAL_FLOW_CSV_HEADER}. */
export const ORIGINAL_FLOW_COLUMNS = 85;
