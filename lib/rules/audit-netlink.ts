/**
 * Audit control over a NETLINK_AUDIT unicast socket to the kernel, as auditctl
 * and go-libaudit do it: status (AUDIT_GET), switching audit on (AUDIT_SET),
 * and listing, adding and deleting rules (AUDIT_LIST_RULES, AUDIT_ADD_RULE,
 * AUDIT_DEL_RULE). The message framing and struct audit_status are pure
 * functions; the socket itself is a thin layer over the shared libc binding.
 *
 * Every request carries NLM_F_REQUEST|NLM_F_ACK. The kernel acks each one
 * (NLMSG_ERROR with error 0, or -errno), and sends replies to AUDIT_GET and
 * AUDIT_LIST_RULES from a kernel thread, so a reply may come before or after
 * the ack; a rule list ends with NLMSG_DONE.
 */
import { WhokilledError } from "../errors.ts";
import {
  AF_NETLINK,
  EACCES,
  EAGAIN,
  ECONNREFUSED,
  EINTR,
  EPERM,
  EPROTONOSUPPORT,
  errno,
  errnoLabel,
  lib,
  NETLINK_AUDIT,
  netlinkAddress,
  SO_RCVTIMEO,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_SOCKET,
} from "../sources/libc.ts";
import { NLMSG_HDRLEN, netlinkMessages, type NetlinkMessageView } from "../sources/netlink.ts";

export const AUDIT_GET = 1000;
export const AUDIT_SET = 1001;
export const AUDIT_ADD_RULE = 1011;
export const AUDIT_DEL_RULE = 1012;
export const AUDIT_LIST_RULES = 1013;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 1;
export const NLM_F_ACK = 4;

export const AUDIT_STATUS_ENABLED = 0x0001;

const REQUESTS = { AUDIT_GET, AUDIT_SET, AUDIT_ADD_RULE, AUDIT_DEL_RULE, AUDIT_LIST_RULES };
const requestName = (type: number) => Object.entries(REQUESTS).find(([, n]) => n === type)?.[0] ?? `message ${type}`;

// --- framing (pure) ----------------------------------------------------------

/** One request: nlmsghdr (len, type, flags, seq, pid 0) + payload, padded to 4 bytes. */
export function encodeNetlinkMessage(type: number, flags: number, seq: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const length = NLMSG_HDRLEN + payload.length;
  const bytes = new Uint8Array((length + 3) & ~3);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, length, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq >>> 0, true);
  bytes.set(payload, NLMSG_HDRLEN);
  return bytes;
}

/** A datagram → its messages (lib/sources/netlink.ts netlinkMessages), each payload copied: the receive buffer is reused. */
export function parseNetlinkMessages(datagram: Uint8Array): NetlinkMessageView[] {
  return Array.from(netlinkMessages(datagram), (message) => ({ ...message, payload: message.payload.slice() }));
}

/** NLMSG_ERROR's payload starts with the error as a negative errno; 0 is an ack. Returns the positive errno. */
export function netlinkErrorOf(payload: Uint8Array): number {
  if (payload.length < 4) return 0;
  const error = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getInt32(0, true);
  return error === 0 ? 0 : -error;
}

// --- struct audit_status (pure) ---------------------------------------------

/** struct audit_status's fields in order, named as `auditctl -s` prints them. */
const STATUS_FIELDS = [
  "mask",
  "enabled", // 0 off, 1 on, 2 on and locked until reboot
  "failure", // 0 silent, 1 printk, 2 panic
  "pid", // the registered audit daemon (0: none)
  "rate_limit",
  "backlog_limit",
  "lost",
  "backlog",
  "feature_bitmap",
  "backlog_wait_time",
  "backlog_wait_time_actual",
] as const;

export type AuditStatus = Record<(typeof STATUS_FIELDS)[number], number>;

export const AUDIT_STATUS_BYTES = STATUS_FIELDS.length * 4;

/** AUDIT_GET's reply → AuditStatus. Older kernels send a shorter struct: missing fields read 0. */
export function decodeStatus(payload: Uint8Array): AuditStatus {
  if (payload.length < 8 * 4) throw new WhokilledError("E_KERNEL", `AUDIT_GET reply too short (${payload.length} bytes)`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const status = {} as AuditStatus;
  STATUS_FIELDS.forEach((name, i) => {
    status[name] = (i + 1) * 4 <= payload.length ? view.getUint32(i * 4, true) : 0;
  });
  return status;
}

/** AUDIT_SET's payload that switches audit on and changes nothing else. Only ever 1: 2 would lock the rules until reboot. */
export function encodeEnable(): Uint8Array {
  const bytes = new Uint8Array(AUDIT_STATUS_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, AUDIT_STATUS_ENABLED, true);
  view.setUint32(4, 1, true);
  return bytes;
}

// --- the socket (thin FFI) ---------------------------------------------------

/** A kernel refusal: the errno and the request it answered. */
export class AuditRequestError extends WhokilledError {
  readonly errno: number;
  readonly request: number;
  constructor(request: number, err: number, message: string) {
    super(err === EPERM || err === EACCES ? "E_PERM" : "E_KERNEL", message);
    this.errno = err;
    this.request = request;
  }
}

/** A failed socket call or a -errno ack, said for people: every errno's message is here. */
function refusal(request: number, err: number): AuditRequestError {
  const what = requestName(request);
  const refused = (message: string) => new AuditRequestError(request, err, message);
  if (err === EPERM || err === EACCES) return refused(`${what}: ${errnoLabel(err)}: talking to the kernel's audit subsystem needs root (CAP_AUDIT_CONTROL) in the initial namespaces`);
  if (err === ECONNREFUSED) return refused(`${what}: ${errnoLabel(err)}: the kernel takes audit requests only from the initial user namespace (this looks like a container)`);
  // Only socket(NETLINK_AUDIT) fails so.
  if (err === EPROTONOSUPPORT) return refused("this kernel has no audit support (CONFIG_AUDIT is off): socket(NETLINK_AUDIT) is not supported");
  return refused(`${what}: the kernel said ${errnoLabel(err)}`);
}

/** How long to wait for the kernel's answer (it answers in microseconds; this only bounds a hang). */
const REPLY_TIMEOUT_SECONDS = 5;
const RECEIVE_BUFFER_BYTES = 64 * 1024;
let lastSeq = (Date.now() & 0xffff) << 8;

export type ReplyShape = "ack" | "reply" | "list";

/**
 * Send one request and collect what the kernel answers with the same
 * sequence number: nothing but the ack ("ack"), one reply of the request's
 * type ("reply"), or replies until NLMSG_DONE ("list"). A -errno ack throws
 * AuditRequestError. Blocks for at most REPLY_TIMEOUT_SECONDS per read.
 */
export function auditRequest(type: number, payload: Uint8Array, shape: ReplyShape): Uint8Array[] {
  const c = lib();
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
  if (fd < 0) throw refusal(type, errno(c));
  try {
    const local = netlinkAddress(0, 0);
    if (c.bind(fd, local, local.length) < 0) throw refusal(type, errno(c));
    const timeout = new BigInt64Array([BigInt(REPLY_TIMEOUT_SECONDS), 0n]); // struct timeval
    c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16);

    const seq = (lastSeq = (lastSeq + 1) >>> 0);
    const message = encodeNetlinkMessage(type, NLM_F_REQUEST | NLM_F_ACK, seq, payload);
    const kernel = netlinkAddress(0, 0);
    let sent: number;
    do sent = Number(c.sendto(fd, message, message.length, 0, kernel, kernel.length));
    while (sent < 0 && errno(c) === EINTR);
    if (sent < 0) throw refusal(type, errno(c));

    const replies: Uint8Array[] = [];
    let acked = false;
    let done = shape === "ack";
    const buffer = new Uint8Array(RECEIVE_BUFFER_BYTES);
    while (!acked || !done) {
      const received = Number(c.recv(fd, buffer, buffer.length, 0));
      if (received < 0) {
        const err = errno(c);
        if (err === EINTR) continue;
        if (err === EAGAIN) throw new AuditRequestError(type, err, `${requestName(type)}: no answer from the kernel within ${REPLY_TIMEOUT_SECONDS} s`);
        throw refusal(type, err);
      }
      for (const reply of parseNetlinkMessages(buffer.subarray(0, received))) {
        // Only the kernel may send to an audit socket; the ack carries our own port id, replies carry 0.
        if (reply.seq !== seq) continue;
        if (reply.type === NLMSG_ERROR) {
          const err = netlinkErrorOf(reply.payload);
          if (err !== 0) throw refusal(type, err);
          acked = true;
        } else if (reply.type === NLMSG_DONE) {
          done = true;
        } else if (reply.type === type && shape !== "ack") {
          replies.push(reply.payload);
          if (shape === "reply") done = true;
        }
      }
    }
    return replies;
  } finally {
    c.close(fd);
  }
}
