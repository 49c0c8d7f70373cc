/**
 * Reading a pipe well, through libc with bun:ffi. poll(2): waiting in the
 * kernel, a slice at a time, lets a reader use readSync into its own reused
 * buffer without ever blocking past the slice (Bun's own stream hands out a
 * fresh 64 KiB buffer per read, and on these VMs the page faults of that cost
 * more than everything else in `capture | attribute`). F_SETPIPE_SZ: a pipe
 * of 1 MiB instead of 64 KiB lets each read take a whole chunk.
 */
import { dlopen, ptr } from "bun:ffi";

const POLLIN = 0x1;

const F_SETPIPE_SZ = 1031;

interface Libc {
  poll(fds: number, count: number, timeoutMs: number): number;
  fcntl(fd: number, command: number, value: number): number;
}

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc === undefined) {
    try {
      const lib = dlopen("libc.so.6", {
        poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
        fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
      });
      libc = {
        poll: (fds, count, timeoutMs) => lib.symbols.poll(fds, count, timeoutMs) as number,
        fcntl: (fd, command, value) => lib.symbols.fcntl(fd, command, value) as number,
      };
    } catch {
      libc = null;
    }
  }
  return libc;
}

/** Ask for a pipe of `bytes` (the kernel caps it at /proc/sys/fs/pipe-max-size); nothing happens for other fds. */
export function widenPipe(fd: number, bytes: number): void {
  loadLibc()?.fcntl(fd, F_SETPIPE_SZ, bytes);
}

/** struct pollfd { int fd; short events; short revents; }, reused. */
const pollFd = new Int32Array(2);

/**
 * Wait up to `timeoutMs` for `fd` to have data or be hung up, that is, for a
 * read that will not block. null when poll(2) cannot be called here.
 */
export function readable(fd: number, timeoutMs: number): boolean | null {
  const call = loadLibc();
  if (call === null) return null;
  pollFd[0] = fd;
  pollFd[1] = POLLIN; // events in the low half; the kernel writes revents in the high half
  const ready = call.poll(ptr(pollFd), 1, timeoutMs);
  // -1 is EINTR (a signal arrived) or worse: report "not yet", the caller looks again.
  return ready > 0 && (pollFd[1]! >>> 16) !== 0;
}
