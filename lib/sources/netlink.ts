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
import { dlopen, FFIType, read } from "bun:ffi";
import { WhokilledError } from "../errors.ts";
import { log } from "../log.ts";
import type { GapLine, RecordLine } from "../schema.ts";
import { errnoName } from "../tables/errno.ts";
import { recordTypeName } from "../tables/record-types.ts";
import { abortableSleep } from "../abortable-sleep.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_AUDIT = 9;
const AUDIT_NLGRP_READLOG = 1;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const MSG_DONTWAIT = 0x40;
const NLMSG_HDRLEN = 16;
/** Below this, nlmsg types are netlink control messages (NOOP, ERROR, DONE, OVERRUN). */
const NLMSG_MIN_TYPE = 0x10;

const EINTR = 4;
const EAGAIN = 11;
const EPERM = 1;
const EACCES = 13;
const ENOBUFS = 105;

const errnoLabel = (errno: number) => errnoName(errno) ?? `errno ${errno}`;

/** The default receive buffer loses most of a burst of kills; 8 MiB did not. */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;
/** Largest audit record the kernel sends (MAX_AUDIT_MESSAGE_LENGTH 8970) with room to spare. */
const DATAGRAM_BUFFER_BYTES = 64 * 1024;
// Poll intervals while the socket is empty: short right after traffic, backing
// off to a ceiling that keeps latency far below a second.
const IDLE_SLEEP_MIN_MS = 1;
const IDLE_SLEEP_MAX_MS = 20;

export const NETLINK_GAP_REASON = "ENOBUFS: the kernel dropped records (socket buffer full)";

type Libc = ReturnType<typeof openLibc>;
let libc: Libc | null = null;

function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: ["i32", "i32", "i32"], returns: "i32" },
    bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
    setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
    getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
    recv: { args: ["i32", "ptr", "u64", "i32"], returns: FFIType.i64_fast },
    close: { args: ["i32"], returns: "i32" },
    __errno_location: { args: [], returns: "ptr" },
  }).symbols;
}

function lib(): Libc {
  if (!libc) {
    try {
      libc = openLibc();
    } catch (error) {
      throw new WhokilledError("E_KERNEL", `netlink: cannot load libc.so.6 for FFI: ${(error as Error).message}`, { cause: error });
    }
  }
  return libc;
}

// Read errno straight after the failing call, before anything else can touch it.
function errno(c: Libc): number {
  const where = c.__errno_location();
  return where === null ? 0 : read.i32(where, 0);
}

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

    const address = new Uint8Array(12);
    const view = new DataView(address.buffer);
    view.setUint16(0, AF_NETLINK, true);
    view.setUint32(4, 0, true); // nl_pid 0: the kernel assigns one
    view.setUint32(8, AUDIT_NLGRP_READLOG, true);
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

/**
 * One datagram as received → its records. Pure, for tests. A datagram holds
 * one message in practice; several are walked by nlmsg_len all the same.
 * `line` is the datagram counter, written to source.line.
 */
export function netlinkDatagramToRecords(datagram: Uint8Array, line: number): RecordLine[] {
  const records: RecordLine[] = [];
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  let offset = 0;
  while (offset + NLMSG_HDRLEN <= datagram.length) {
    const declared = view.getUint32(offset, true);
    const type = view.getUint16(offset + 4, true);
    // Multicast copies carry the full length; auditd's unicast copies famously
    // do not. Trust the datagram's own size over a length that points past it.
    const end = declared >= NLMSG_HDRLEN && offset + declared <= datagram.length ? offset + declared : datagram.length;
    if (type >= NLMSG_MIN_TYPE) {
      const record = netlinkMessageToRecord(type, datagram.subarray(offset + NLMSG_HDRLEN, end), line);
      if (record) records.push(record);
    }
    offset = (end + 3) & ~3; // NLMSG_ALIGN
  }
  return records;
}

/** A message body (`audit(…): fields`) of record type `type` → a RecordLine, or null when empty. */
export function netlinkMessageToRecord(type: number, body: Uint8Array, line: number): RecordLine | null {
  let stop = body.length;
  while (stop > 0 && (body[stop - 1] === 0 || body[stop - 1] === 0x0a)) stop--;
  if (stop === 0) return null;
  const text = decoder.decode(body.subarray(0, stop));
  const name = recordTypeName(type);
  return {
    kind: "record",
    type: name,
    id: STAMP.exec(text)?.[1] ?? "",
    node: null,
    raw: `type=${name} msg=${text}`,
    source: { file: "netlink", line },
  };
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
      datagrams++;
      // Decoding copies the text out, so the buffer can be reused at once.
      const records = netlinkDatagramToRecords(buffer.subarray(0, received), datagrams);
      for (const record of records) yield record;
    }
  } finally {
    c.close(fd);
  }
}
