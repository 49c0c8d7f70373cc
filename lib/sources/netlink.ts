/**
 * Live audit records straight from the kernel: the audit netlink multicast
 * group (AUDIT_NLGRP_READLOG), read through libc with bun:ffi. This works next
 * to a running auditd (which keeps the unicast channel) and needs
 * CAP_AUDIT_READ.
 *
 * Each datagram is a 16-byte nlmsghdr (len, type = record type number, flags,
 * seq, pid) followed by `audit(SEC.MS:SERIAL): fields`, without the `type=`
 * prefix audit.log has. Unlike audit.log, the multicast stream carries EOE.
 */
import { WhokilledError } from "../errors.ts";
import {
  AF_NETLINK,
  EACCES,
  EAGAIN,
  EINTR,
  ENOBUFS,
  EPERM,
  errno,
  errnoLabel,
  lib,
  MSG_DONTWAIT,
  NETLINK_AUDIT,
  netlinkAddress,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_RCVTIMEO,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_SOCKET,
  type Libc,
} from "./libc.ts";
import { log } from "../log.ts";
import type { GapLine, RecordLine } from "../schema.ts";
import { recordTypeName } from "../tables/record-types.ts";
import { abortableSleep } from "./abortable-sleep.ts";

const AUDIT_NLGRP_READLOG = 1;
export const NLMSG_HDRLEN = 16;
/** Below this, nlmsg types are netlink control messages (NOOP, ERROR, DONE, OVERRUN). */
const NLMSG_MIN_TYPE = 0x10;

/** The default receive buffer loses most of a burst of kills; 8 MiB did not. */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;
/** Largest audit record the kernel sends (MAX_AUDIT_MESSAGE_LENGTH 8970) with room to spare. */
const DATAGRAM_BUFFER_BYTES = 64 * 1024;
// Poll intervals while the socket is empty: short right after traffic, backing
// off to a ceiling that keeps latency far below a second.
const IDLE_SLEEP_MIN_MS = 1;
const IDLE_SLEEP_MAX_MS = 20;

export const NETLINK_GAP_REASON = "ENOBUFS: the kernel dropped records (socket buffer full)";

function failure(what: string, err: number): WhokilledError {
  if (err === EPERM || err === EACCES) {
    return new WhokilledError("E_PERM", `netlink ${what}: ${errnoLabel(err)}: reading the audit multicast group needs root (CAP_AUDIT_READ)`);
  }
  return new WhokilledError("E_KERNEL", `netlink ${what}: ${errnoLabel(err)}`);
}

/** Open and bind the multicast socket; returns the fd. */
function openAuditSocket(c: Libc, receiveBufferBytes: number): number {
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT);
  if (fd < 0) throw failure("socket(AF_NETLINK, NETLINK_AUDIT)", errno(c));
  try {
    // Size the buffer before bind so a burst right after bind already fits.
    const size = new Int32Array([Math.min(receiveBufferBytes, 0x7fffffff)]);
    let forceError: number | null = null;
    if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) < 0) {
      forceError = errno(c);
      // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the plain option is capped at net.core.rmem_max.
      c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
    }
    const actual = new Int32Array(1);
    const length = new Uint32Array([4]);
    if (c.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, actual, length) === 0) log.debug(`netlink: receive buffer ${actual[0]} bytes`);

    // nl_pid 0: the kernel assigns one.
    const address = netlinkAddress(0, AUDIT_NLGRP_READLOG);
    if (c.bind(fd, address, address.length) < 0) throw failure("bind to the audit multicast group", errno(c));
    // Said only once bound: where bind fails too, its error is the one that matters.
    if (forceError !== null) {
      log.warn(`netlink: SO_RCVBUFFORCE failed (${errnoLabel(forceError)}); the receive buffer is capped by net.core.rmem_max, and bursts may be lost`);
    }
    return fd;
  } catch (error) {
    c.close(fd);
    throw error;
  }
}

const STAMP = /^audit\((\d+\.\d+:\d+)\)/;
const decoder = new TextDecoder("utf-8");

/** One netlink message of a datagram: its nlmsghdr, and its payload as a view into the datagram (copy it if the buffer is reused). */
export interface NetlinkMessageView {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Uint8Array;
}

/**
 * A datagram's messages, walked by nlmsg_len (4-byte aligned, NLMSG_ALIGN). Multicast copies carry the full
 * length; auditd's unicast copies famously do not: a length that points past the datagram is clamped to its end.
 */
export function* netlinkMessages(datagram: Uint8Array): Generator<NetlinkMessageView> {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  let offset = 0;
  while (offset + NLMSG_HDRLEN <= datagram.length) {
    const declared = view.getUint32(offset, true);
    const end = declared >= NLMSG_HDRLEN && offset + declared <= datagram.length ? offset + declared : datagram.length;
    yield {
      type: view.getUint16(offset + 4, true),
      flags: view.getUint16(offset + 6, true),
      seq: view.getUint32(offset + 8, true),
      pid: view.getUint32(offset + 12, true),
      payload: datagram.subarray(offset + NLMSG_HDRLEN, end),
    };
    offset = (end + 3) & ~3;
  }
}

/**
 * One datagram as received → its records. Pure, for tests. A datagram holds
 * one message in practice; several are walked by nlmsg_len all the same.
 * `line` is the datagram counter, written to source.line.
 */
export function netlinkDatagramToRecords(datagram: Uint8Array, line: number): RecordLine[] {
  const records: RecordLine[] = [];
  for (const { type, payload: body } of netlinkMessages(datagram)) {
    if (type < NLMSG_MIN_TYPE) continue;
    // The body (`audit(…): fields`) of record type `type`, without its trailing NULs and newline; an empty one is no record.
    let stop = body.length;
    while (stop > 0 && (body[stop - 1] === 0 || body[stop - 1] === 0x0a)) stop--;
    if (stop === 0) continue;
    const text = decoder.decode(body.subarray(0, stop));
    const name = recordTypeName(type);
    records.push({
      kind: "record",
      type: name,
      id: STAMP.exec(text)?.[1] ?? "",
      node: null,
      raw: `type=${name} msg=${text}`,
      source: { file: "netlink", line },
    });
  }
  return records;
}

export interface NetlinkOptions {
  signal?: AbortSignal;
  /** SO_RCVBUFFORCE size; default 8 MiB. */
  receiveBufferBytes?: number;
  /** Called once the socket is bound: records from then on will be seen. */
  onReady?: () => void;
}

/**
 * Audit records as the kernel multicasts them, until `signal` aborts or the
 * consumer stops. Yields a GapLine whenever the kernel reports it dropped
 * records (ENOBUFS), then carries on.
 */
export async function* netlinkRecords(options: NetlinkOptions = {}): AsyncGenerator<RecordLine | GapLine> {
  const { signal, receiveBufferBytes = DEFAULT_RECEIVE_BUFFER_BYTES, onReady } = options;
  if (signal?.aborted) return;
  const c = lib();
  const fd = openAuditSocket(c, receiveBufferBytes);
  try {
    onReady?.();
    const buffer = new Uint8Array(DATAGRAM_BUFFER_BYTES);
    let datagrams = 0;
    let idle = IDLE_SLEEP_MIN_MS;
    while (!signal?.aborted) {
      // recv never blocks (MSG_DONTWAIT): a blocking call would freeze the event loop.
      const received = Number(c.recv(fd, buffer, buffer.length, MSG_DONTWAIT));
      if (received < 0) {
        const err = errno(c);
        if (err === EAGAIN) {
          await abortableSleep(idle, signal);
          idle = Math.min(idle * 2, IDLE_SLEEP_MAX_MS);
          continue;
        }
        if (err === EINTR) continue;
        if (err === ENOBUFS) {
          yield { kind: "gap", source: "netlink", time: new Date().toISOString(), reason: NETLINK_GAP_REASON, lost: null };
          continue;
        }
        throw failure("recv", err);
      }
      idle = IDLE_SLEEP_MIN_MS;
      // Decoding copies the text out, so the buffer can be reused at once.
      yield* netlinkDatagramToRecords(buffer.subarray(0, received), ++datagrams);
    }
  } finally {
    c.close(fd);
  }
}

/** What the kernel showed about this process's own audit context. */
export interface OwnAuditContext {
  /** true: it has one; false: it has none; null: the kernel's answer did not settle it. */
  context: boolean | null;
  detail: string;
}

const EVENT_LISTENER = "EVENT_LISTENER";
const PROBE_TIMEOUT_MS = 1000;
/** After our own disconnect record: how long its SYSCALL record may take to follow. */
const PROBE_TAIL_MS = 150;

/**
 * Does this process have an audit context? The kernel gives a task one at
 * fork only if audit had been enabled at some point since boot, and no /proc
 * field shows it. But a record logged inside a syscall of a task that has a
 * context is followed by that syscall's SYSCALL record, with the same serial;
 * without a context it stands alone. So: listen to the multicast group, bind
 * and close a second audit socket (each logs an EVENT_LISTENER record in our
 * own syscall), and see whether a SYSCALL record shares their serials.
 *
 * Needs audit on, CAP_AUDIT_READ, and at least one syscall rule loaded (with
 * none the kernel writes no SYSCALL record for anyone). Records reach
 * listeners in the order they were queued, so once our disconnect record has
 * come, the SYSCALL of our earlier bind would have come before it.
 */
export function probeOwnAuditContext(): OwnAuditContext {
  const c = lib();
  const deadline = performance.now() + PROBE_TIMEOUT_MS;
  const listener = openAuditSocket(c, DEFAULT_RECEIVE_BUFFER_BYTES);
  try {
    // openAuditSocket's socket does not block; recv here waits up to 50 ms at a time instead.
    const wait = new BigInt64Array([0n, 50_000n]);
    c.setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, wait, 16);
    const trigger = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
    if (trigger < 0) return { context: null, detail: `socket: ${errnoLabel(errno(c))}` };
    const address = netlinkAddress(0, AUDIT_NLGRP_READLOG);
    const bound = c.bind(trigger, address, address.length);
    const bindError = bound < 0 ? errno(c) : 0;
    c.close(trigger);
    if (bound < 0) return { context: null, detail: `bind: ${errnoLabel(bindError)}` };

    const ours = ` pid=${process.pid} `;
    const listenerSerials = new Set<string>();
    const syscallSerials = new Set<string>();
    let disconnectSeen: number | null = null;
    const buffer = new Uint8Array(DATAGRAM_BUFFER_BYTES);
    let datagrams = 0;
    while (performance.now() < deadline) {
      if (disconnectSeen !== null && performance.now() > disconnectSeen + PROBE_TAIL_MS) break;
      const received = Number(c.recv(listener, buffer, buffer.length, 0));
      if (received < 0) {
        const err = errno(c);
        if (err === EAGAIN || err === EINTR) continue;
        return { context: null, detail: err === ENOBUFS ? "records were lost (ENOBUFS) while probing" : `recv: ${errnoLabel(err)}` };
      }
      for (const record of netlinkDatagramToRecords(buffer.subarray(0, received), ++datagrams)) {
        if (!record.raw.includes(ours)) continue;
        const serial = record.id.slice(record.id.indexOf(":") + 1);
        if (record.type === EVENT_LISTENER) {
          listenerSerials.add(serial);
          if (record.raw.includes(" op=disconnect ")) disconnectSeen ??= performance.now();
        } else if (record.type === "SYSCALL") syscallSerials.add(serial);
        for (const s of listenerSerials) {
          if (syscallSerials.has(s)) return { context: true, detail: `our own EVENT_LISTENER record (serial ${s}) came with its SYSCALL record` };
        }
      }
    }
    if (disconnectSeen !== null) {
      return { context: false, detail: "our own EVENT_LISTENER records came without a SYSCALL record: this process has no audit context" };
    }
    return { context: null, detail: `our own EVENT_LISTENER records did not arrive within ${PROBE_TIMEOUT_MS} ms` };
  } finally {
    c.close(listener);
  }
}
