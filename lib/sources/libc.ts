/**
 * The one bun:ffi binding to libc, shared by everything that talks to the
 * kernel's audit netlink family: the multicast reader (lib/sources/netlink.ts)
 * and rule/status control (lib/rules/audit-netlink.ts); syscall(2), for
 * bait's pidfds (lib/demo/pid-bait.ts); getppid(2), the unrelated call the
 * cost probe times (lib/rules/probe.ts); poll(2) and fcntl(2), for reading
 * pipes (lib/sources/poll.ts); and clock_gettime(2), the trace clocks
 * (lib/sources/tracefs.ts). libc is loaded on first use, so code that
 * never touches the kernel pays nothing for it.
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { WhokilledError } from "../errors.ts";
import { errnoName } from "../tables/errno.ts";

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_AUDIT = 9;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_RCVTIMEO = 20;
export const SO_RCVBUFFORCE = 33;
export const MSG_DONTWAIT = 0x40;

export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOBUFS = 105;
export const ECONNREFUSED = 111;
export const EPROTONOSUPPORT = 93;

function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: ["i32", "i32", "i32"], returns: "i32" },
    bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
    setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
    getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
    recv: { args: ["i32", "ptr", "u64", "i32"], returns: FFIType.i64_fast },
    sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: FFIType.i64_fast },
    close: { args: ["i32"], returns: "i32" },
    syscall: { args: ["i64", "i64", "i64", "i64", "i64"], returns: FFIType.i64_fast },
    __errno_location: { args: [], returns: "ptr" },
    getppid: { args: [], returns: "i32" },
    poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
    fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
    clock_gettime: { args: ["i32", "ptr"], returns: "i32" },
  }).symbols;
}

export type Libc = ReturnType<typeof openLibc>;
let libc: Libc | null = null;

/** libc's socket calls; throws E_KERNEL when libc.so.6 cannot be loaded (e.g. a musl system). */
export function lib(): Libc {
  if (!libc) {
    try {
      libc = openLibc();
    } catch (error) {
      throw new WhokilledError("E_KERNEL", `netlink: cannot load libc.so.6 for FFI: ${(error as Error).message}`, { cause: error });
    }
  }
  return libc;
}

/** errno of the call that just failed: read it before anything else can touch it. */
export function errno(c: Libc): number {
  const where = c.__errno_location();
  return where === null ? 0 : read.i32(where, 0);
}

export const errnoLabel = (err: number) => errnoName(err) ?? `errno ${err}`;

/** struct sockaddr_nl: family, pad, nl_pid (0 = the kernel, or "assign one" in bind), nl_groups. */
export function netlinkAddress(pid: number, groups: number): Uint8Array {
  const address = new Uint8Array(12);
  const view = new DataView(address.buffer);
  view.setUint16(0, AF_NETLINK, true);
  view.setUint32(4, pid, true);
  view.setUint32(8, groups, true);
  return address;
}
