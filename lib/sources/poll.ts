/**
 * Reading a pipe well, through libc with bun:ffi. poll(2): waiting in the
 * kernel, a slice at a time, lets a reader use readSync into its own reused
 * buffer without ever blocking past the slice (Bun's own stream hands out a
 * fresh 64 KiB buffer per read, and on these VMs the page faults of that cost
 * more than everything else in `capture | attribute`). F_SETPIPE_SZ: a pipe
 * of 1 MiB instead of 64 KiB lets each read take a whole chunk.
 */
import { ptr } from "bun:ffi";
import { lib, type Libc } from "./libc.ts";

const POLLIN = 0x1;

const F_SETPIPE_SZ = 1031;

/** libc (libc.ts keeps it once loaded), or null where it cannot be loaded: Bun's stream reads the pipe then. */
function loadLibc(): Libc | null {
  try {
    return lib();
  } catch {
    return null;
  }
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
