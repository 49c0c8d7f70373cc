/*
 * A signal sender with a known comm for live-kernel tests. It makes exactly
 * one kill-family syscall (COUNT with `loop`), through syscall(2) so the libc wrapper cannot pick
 * another one, and exits with 0 on success or the errno on failure.
 *
 *   sender kill PID SIG | tkill TID SIG | tgkill TGID TID SIG
 *        | sigqueue PID SIG | tgsigqueue TGID TID SIG | pidfd PID SIG
 *        | loop COUNT OP ARGS...   (OP ARGS as above, made COUNT times)
 *
 * Built twice, with -m64 and -m32, so both audit ABIs are exercised.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static long num(const char *s) { return strtol(s, NULL, 10); }

/* One kill-family call described by argv[1..]: 0 on success, else errno (or 100/101). */
static int one(int argc, char **argv) {
  const char *op = argv[1];
  long rc;
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  if (!strcmp(op, "kill")) {
    rc = syscall(SYS_kill, (int)num(argv[2]), (int)num(argv[3]));
  } else if (!strcmp(op, "tkill")) {
    rc = syscall(SYS_tkill, (int)num(argv[2]), (int)num(argv[3]));
  } else if (!strcmp(op, "tgkill") && argc >= 5) {
    rc = syscall(SYS_tgkill, (int)num(argv[2]), (int)num(argv[3]), (int)num(argv[4]));
  } else if (!strcmp(op, "sigqueue")) {
    info.si_signo = (int)num(argv[3]);
    rc = syscall(SYS_rt_sigqueueinfo, (int)num(argv[2]), (int)num(argv[3]), &info);
  } else if (!strcmp(op, "tgsigqueue") && argc >= 5) {
    info.si_signo = (int)num(argv[4]);
    rc = syscall(SYS_rt_tgsigqueueinfo, (int)num(argv[2]), (int)num(argv[3]), (int)num(argv[4]), &info);
  } else if (!strcmp(op, "pidfd")) {
    long fd = syscall(SYS_pidfd_open, (int)num(argv[2]), 0);
    if (fd < 0) { perror("pidfd_open"); return 101; }
    rc = syscall(SYS_pidfd_send_signal, (int)fd, (int)num(argv[3]), NULL, 0);
    int saved = errno;
    close((int)fd);
    errno = saved;
  } else {
    fprintf(stderr, "sender: unknown operation %s\n", op);
    return 100;
  }
  return rc == 0 ? 0 : errno;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: sender kill|tkill|sigqueue|pidfd PID SIG | tgkill|tgsigqueue TGID TID SIG | loop COUNT OP ARGS...\n");
    return 100;
  }
  if (!strcmp(argv[1], "loop")) {
    /* Volume for burst tests: COUNT calls from one process, stopping at the first failure. */
    long count = num(argv[2]);
    if (argc < 6) return 100;
    for (long i = 0; i < count; i++) {
      int rc = one(argc - 2, argv + 2);
      if (rc != 0) return rc;
    }
    return 0;
  }
  return one(argc, argv);
}
