/**
 * Observations: the seam between the sensors (capture analyzers, AT drivers) and the detectors.
 *
 *   analyzer(payload, ctx) ──► Observation { kind, device, peer, ref, ...facts }
 *                                   │
 *                                   ▼
 *                         detect/engine (signatures as data, per-device state)
 *
 * An observation is small, typed and says which device it is about (`device`) and where it was
 * seen (`ref`: input file + frame numbers). Analyzers are pure: they never touch the store, MQTT
 * or the detector.
 */

/** A network endpoint as seen on the wire. `mac` when the link layer showed it (local addresses only) or the protocol itself states it (the Dinstar DWG header). */
export interface Endpoint {
  ip: string;
  port?: number;
  mac?: string;
}

/** Where a fact comes from: a capture file (by index into the run's inputs) and its frame numbers (1-based, as Wireshark counts). */
export interface CaptureRef {
  file: number;
  frames: number[];
}

/** What every analyzer gets with a payload: who sent it to whom, when, and from which frames. */
export interface PacketContext {
  src: Endpoint;
  dst: Endpoint;
  transport: 'udp' | 'tcp';
  /** Capture timestamp in milliseconds since the epoch (as recorded; the capturing clock may be wrong). */
  ts: number;
  ref: CaptureRef;
}

interface ObservationBase {
  /** The device the fact is about (the gateway, the SMS server, the DHCP client...). */
  device: Endpoint;
  /** The other side, when there is one. */
  peer?: Endpoint;
  ts: number;
  ref: CaptureRef;
}

/** GoIP SMS-server keep-alive (`req:N;id:...;pass:...`), one per channel every ~30 s. Source: goip-protocols.md §1.1.1. */
export interface GoipKeepAliveObservation extends ObservationBase {
  kind: 'goip-keepalive';
  count: number;
  channelId: string;
  password?: string;
  num?: string;
  /** AT+CSQ units (0..31, 99 unknown). */
  signal?: number;
  gsmStatus?: string;
  voipStatus?: string;
  voipState?: string;
  remainTime?: number;
  imei?: string;
  imsi?: string;
  iccid?: string;
  carrier?: string;
  idle?: number;
  disableStatus?: string;
  smsLogin?: string;
  smbLogin?: string;
  lac?: string;
  cell?: string;
  cgatt?: string;
  /** Every key/value pair as sent, in order (keys as sent, not lowercased). */
  fields: Array<[string, string]>;
}

/** A reply to a keep-alive (`reg:N;status:S;` or the non-standard `req:N;status:S;`). `device` is the SMS server. */
export interface GoipKeepAliveReplyObservation extends ObservationBase {
  kind: 'goip-keepalive-reply';
  token: 'reg' | 'req';
  count: number;
  status: number;
}

export type GoipEventName =
  | 'RECEIVE' | 'DELIVER' | 'STATE' | 'RECORD' | 'REMAIN' | 'EXPIRY' | 'HANGUP' | 'CELLS'
  | 'CELLINFO' | 'BCCH' | 'CGATT' | 'USSN' | 'AT' | 'GSM';

/** An event from a gateway to its SMS server (`NAME:recvid;id:..;password:..;...`). */
export interface GoipEventObservation extends ObservationBase {
  kind: 'goip-event';
  event: GoipEventName;
  recvId: number;
  channelId: string;
  password?: string;
  /** Event-specific fields in order; for RECEIVE/USSN `msg` holds the whole remaining body. */
  fields: Array<[string, string]>;
}

/** An incoming SMS reported by a gateway (RECEIVE). Resends with the same (channel, recvid) are merged by the detector. */
export interface GoipSmsObservation extends ObservationBase {
  kind: 'goip-sms';
  recvId: number;
  channelId: string;
  sender: string;
  smsc?: string;
  body: string;
}

/** A server→gateway command or a gateway's answer to one (MSG/PASSWORD/SEND/OK/DONE/get_gsm_num/USSD/... or `RECEIVE 123 OK`). */
export interface GoipCommandObservation extends ObservationBase {
  kind: 'goip-command';
  /** 'server' when sent by the SMS server, 'gateway' when the gateway sent it, 'either' when the shape is the same both ways (DONE); device = the sender. */
  from: 'server' | 'gateway' | 'either';
  command: string;
  sendId: string;
  args: string[];
}

export interface SdpSummary {
  origin?: { username: string; sessionId: string; sessionVersion: string; address: string };
  sessionName?: string;
  connection?: string;
  media: Array<{
    type: string; port: number; protocol: string; payloads: number[]; codecs: string[]; ptime?: number; crypto: boolean;
    /** Media-level c= address (RFC 4566 §5.7), when the m= section has its own. */
    connection?: string;
    /** a=rtpmap lines of this m= section: payload type, encoding name, clock rate (RFC 4566 §6). */
    rtpmap?: Array<{ pt: number; codec: string; rate?: number }>;
  }>;
}

/** A SIP request or response, read whole (Content-Length framing on TCP). */
export interface SipObservation extends ObservationBase {
  kind: 'sip';
  isRequest: boolean;
  method?: string;
  requestUri?: string;
  status?: number;
  reason?: string;
  callId?: string;
  cseq?: string;
  from?: string;
  to?: string;
  /** Address-of-record of a REGISTER (the To URI without parameters). */
  aor?: string;
  contact?: string;
  userAgent?: string;
  server?: string;
  via?: string;
  /** Header names as sent, lowercased and expanded from the compact form. */
  headerNames: string[];
  sdp?: SdpSummary;
  /** Why the SDP could not be read, if it could not. */
  sdpError?: string;
}

export interface DhcpObservation extends ObservationBase {
  kind: 'dhcp';
  messageType?: number;
  clientMac: string;
  vendorClass?: string;
  hostname?: string;
  requestedIp?: string;
  yourIp?: string;
  paramRequestList?: number[];
  /** Option 61 client identifier as lowercase colon hex (usually `01:` + the MAC, RFC 2132 §9.14). */
  clientId?: string;
}

export interface DnsQueryObservation extends ObservationBase {
  kind: 'dns-query';
  txid: number;
  names: string[];
  resolver: string;
}

/** Vendor DDNS exchange (magic 86 70 14 13, UDP 39800 in the NiceLabs capture). */
export interface DdnsObservation extends ObservationBase {
  kind: 'ddns';
  flag: 'request' | 'reply' | 'unknown';
  serial?: string;
  publicIp?: string;
  domain?: string;
}

/** An SMS forwarded to e-mail over SMTP (GoIP "smail"). */
export interface SmtpSmsObservation extends ObservationBase {
  kind: 'smtp-sms';
  ehlo?: string;
  mailer?: string;
  subject?: string;
  serial?: string;
  channel?: string;
  smsSender?: string;
  smsTime?: string;
  carrier?: string;
  text?: string;
  authLogin: boolean;
  tls: boolean;
}

export interface HttpObservation extends ObservationBase {
  kind: 'http';
  isResponse: boolean;
  status?: number;
  /** True when the header block uses bare LF line endings (LibHTTPD in GoIP firmware). */
  bareLf: boolean;
  server?: string;
  realm?: string;
  method?: string;
  path?: string;
  title?: string;
}

export interface TelnetBannerObservation extends ObservationBase {
  kind: 'telnet-banner';
  /** First bytes of the server's banner as hex. */
  hex: string;
  text: string;
}

/** Link-layer sighting: this MAC used this IP (from Ethernet source of a local address, ARP or DHCP). */
export interface MacSightingObservation extends ObservationBase {
  kind: 'mac';
  mac: string;
  oui: string;
}

/** NTP datagram to the vendor time servers or of an odd size (GoIP boot, goip-protocols.md §1.2). */
export interface NtpObservation extends ObservationBase {
  kind: 'ntp';
  length: number;
  standard: boolean;
  /** Version and mode from the first byte (RFC 5905 §7.3), when there is one: mode 3 client, 4 server. */
  version?: number;
  mode?: number;
}


/** Dinstar "DWG SMS API 2.0" over TCP: 24-byte header carrying the gateway MAC (goip-protocols.md §2.3). */
export interface DinstarApiObservation extends ObservationBase {
  kind: 'dinstar-api';
  gatewayMac: string;
  messageType: number;
  messageName: string;
  bodyLength: number;
  /** Authentication user name (cleartext in the protocol). */
  user?: string;
  /** Which side sent the message: the gateway (TCP client) or the SMS server. */
  from?: 'gateway' | 'server';
  /** GSM port of a SendSmsRequest / ReceiveSmsMessageRequest, as sent (0-based in the reference server). */
  port?: number;
  /** StatusRequest: number of ports and one status per port (0 works, 1 no SIM, 2 not registered, 3 no hardware port). */
  portCount?: number;
  portStatuses?: number[];
  /** ReceiveSmsMessageRequest: the SMS sender. */
  smsSender?: string;
  /** SendSmsRequest: the number the server asks the gateway to text. */
  smsRecipient?: string;
  smsText?: string;
}

/** Asterisk-style manager interface (TCP 5038) as used by Yeastar TG and OpenVox gateways for SMS (goip-protocols.md §2.4, §2.5). */
export interface AmiObservation extends ObservationBase {
  kind: 'ami';
  banner?: string;
  action?: string;
  event?: string;
  /** GSM port / span of an SMS event. */
  gsmPort?: string;
  smsSender?: string;
  smsText?: string;
  /** `Username` of an `Action: Login` (the `Secret` is never kept). */
  user?: string;
  /** The command line of `Action: smscommand` (Yeastar) or `Action: Command` (OpenVox), e.g. `gsm send sms 2 +7... "..."`. */
  command?: string;
  /** Destination number of a `gsm send (sync) sms|csms` command. */
  smsRecipient?: string;
  /** The SMS text as sent, kept when `smsText` was percent-decoded from it (Yeastar URL-encodes `Content`). */
  smsContentRaw?: string;
  smsc?: string;
  /** `Recvtime` of a ReceivedSMS, as the gateway wrote it (gateway clock, no zone). */
  recvTime?: string;
  /** Multipart position of a ReceivedSMS (`Index` / `Total`; parts share `ID`). */
  smsIndex?: number;
  smsTotal?: number;
  smsId?: string;
  /** From a `gsm show span` reply: module IMEI, SIM IMSI and network name (digits only; masked values are dropped). */
  imei?: string;
  imsi?: string;
  networkName?: string;
}

/** One SIM slot as reported by an Ejoin/SkyLine device push. */
export interface EjoinSimSlot {
  port: string;
  imei?: string;
  iccid?: string;
  imsi?: string;
  status?: number;
  operator?: string;
  /** `sig` as reported (signal level). */
  signal?: number;
}

/** Ejoin / SkyLine HTTP API traffic: a JSON push (dev-status, recv-sms, status-report) or a /goip_*.html call (goip-protocols.md §2.2). */
export interface EjoinApiObservation extends ObservationBase {
  kind: 'ejoin-api';
  via: 'push' | 'request';
  type?: string;
  path?: string;
  mac?: string;
  maxPorts?: number;
  maxSlot?: number;
  slots: EjoinSimSlot[];
  sms: Array<{ port: string; from: string; to?: string; text: string }>;
  /** `username` from the query of a /goip_*.html request (the password is never kept). */
  user?: string;
  /** `op` of a /goip_send_cmd.html request, from the query or the JSON body. */
  op?: string;
  /** `ver` (firmware version string) and `ip` of a dev-status. */
  firmwareVersion?: string;
  deviceIp?: string;
  /** recv-sms rows flagged as delivery reports (dr = 1): counted, not read as SMS texts. */
  deliveryReports?: number;
  /** IMEI rewrites sent to the gateway (`sim_imei(n)=IMEI` body of /goip_send_cmd.html?op=set); n is the slot index. */
  imeiSet?: Array<{ index: number; imei: string }>;
}

export type Observation =
  | GoipKeepAliveObservation
  | GoipKeepAliveReplyObservation
  | GoipEventObservation
  | GoipSmsObservation
  | GoipCommandObservation
  | SipObservation
  | DhcpObservation
  | DnsQueryObservation
  | DdnsObservation
  | SmtpSmsObservation
  | HttpObservation
  | TelnetBannerObservation
  | MacSightingObservation
  | NtpObservation
  | DinstarApiObservation
  | AmiObservation
  | EjoinApiObservation;

export type ObservationKind = Observation['kind'];

/** Why a payload was not read; counted per reason and shown to the user. */
export interface Malformed {
  protocol: string;
  reason: string;
  ref: CaptureRef;
}

/** What an analyzer gives back: observations, and/or a reason it could not read the payload. */
export interface AnalyzerResult {
  observations: Observation[];
  malformed?: Malformed[];
}
