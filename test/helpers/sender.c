/*
 * A signal sender with a known comm for live-kernel tests. It makes exactly
 * one kill-family syscall (COUNT with `loop` and `burst`), through syscall(2) so the libc wrapper cannot pick
 * another one, and exits with 0 on success or the errno on failure.
 *
 *   sender [linger MS] kill PID SIG | tkill TID SIG | tgkill TGID TID SIG
 *        | sigqueue PID SIG | tgsigqueue TGID TID SIG | pidfd PID SIG
 *        | loop COUNT OP ARGS...   (OP ARGS as above, made COUNT times, stopping at the first failure)
 *        | burst COUNT OP ARGS...  (made COUNT times whatever fails; prints how many failed)
 *        | pidfd-reaped SIG signal-first|exit-first
 *
 * A negative PID to kill is a process group. `linger MS` keeps the sender
 * alive MS milliseconds after its calls, so a reader of /proc can still see
 * it (the tracepoint tests; 0: it exits at once, as kill(1) does).
 *
 * pidfd-reaped forks a child of its own, opens a pidfd on it, and (signal-first)
 * signals it through the pidfd, or (exit-first) lets it exit; then reaps it and
 * signals the same descriptor again, which fails with ESRCH (no OBJ_PID). It
 * prints "CHILD FD" and exits 0 when that last call failed with ESRCH.
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
#include <sys/wait.h>
#include <time.h>
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

static int pidfd_reaped(int sig, int signal_first) {
  pid_t child = fork();
  if (child < 0) { perror("fork"); return 101; }
  if (child == 0) {
    if (signal_first) for (;;) pause();
    _exit(0);
  }
  long fd = syscall(SYS_pidfd_open, child, 0);
  if (fd < 0) { perror("pidfd_open"); return 101; }
  if (signal_first && syscall(SYS_pidfd_send_signal, (int)fd, sig, NULL, 0) != 0) { perror("pidfd_send_signal"); return 102; }
  if (waitpid(child, NULL, 0) != child) { perror("waitpid"); return 103; }
  printf("%d %ld\n", (int)child, fd);
  fflush(stdout);
  long rc = syscall(SYS_pidfd_send_signal, (int)fd, sig, NULL, 0);
  return rc == 0 ? 104 : errno == ESRCH ? 0 : errno;
}

static void linger(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int run(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "pidfd-reaped")) return pidfd_reaped((int)num(argv[2]), !strcmp(argv[3], "signal-first"));
  if (argc < 4) {
    fprintf(stderr, "usage: sender [linger MS] kill|tkill|sigqueue|pidfd PID SIG | tgkill|tgsigqueue TGID TID SIG | loop|burst COUNT OP ARGS...\n");
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
  if (!strcmp(argv[1], "burst")) {
    /* COUNT calls whatever fails: the last failure's errno, and how many failed on stdout. */
    long count = num(argv[2]), failed = 0;
    int last = 0;
    if (argc < 6) return 100;
    for (long i = 0; i < count; i++) {
      int rc = one(argc - 2, argv + 2);
      if (rc != 0) { failed++; last = rc; }
    }
    printf("%ld\n", failed);
    fflush(stdout);
    return last;
  }
  return one(argc, argv);
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "linger")) {
    long ms = num(argv[2]);
    int rc = run(argc - 2, argv + 2);
    linger(ms);
    return rc;
  }
  return run(argc, argv);
}
