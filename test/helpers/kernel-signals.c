/*
 * Reproducers for the signals the kernel sends itself, for the live tests
 * and docs/KERNEL-SIGNALS.md. Each mode ends the process the way the kernel
 * path under study does; none signals any other process.
 *
 *   segv | fpe | ill | trap | bus   a fault in this process
 *   abort                           abort(): SIGABRT to itself
 *   raise                           raise(SIGTERM): tgkill to itself
 *   selfgroup                       own process group, then kill(0, SIGTERM)
 *   pipe                            write to a pipe whose reader is gone
 *   xfsz                            write past RLIMIT_FSIZE (file in $TMPDIR, removed)
 *   cpu SOFT HARD                   RLIMIT_CPU soft/hard seconds, then spin
 *   cpu-ign SOFT HARD               the same, ignoring SIGXCPU (to reach the hard limit)
 *   spin                            spin forever (for `ulimit -t 1; exec`)
 *   alarm | itimer | ptimer         alarm(1) / setitimer(ITIMER_REAL) / timer_create, SIGALRM
 *   vtalrm                          setitimer(ITIMER_VIRTUAL), spin
 *   pdeath SIG                      fork a child that sets PR_SET_PDEATHSIG SIG;
 *                                   print "CHILD_PID", then exit: the kernel signals the child
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static void spin(void) {
  for (;;) sink++;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "segv")) {
    volatile int *volatile nowhere = NULL;
    return *nowhere;
  }
  if (!strcmp(mode, "fpe")) {
    /* Not 1 / zero: gcc compiles that without a division. */
    volatile int seven = 7, zero = 0;
    return seven / zero;
  }
  if (!strcmp(mode, "ill")) __builtin_trap();
  if (!strcmp(mode, "trap")) {
    __asm__ volatile("int3");
    return 1;
  }
  if (!strcmp(mode, "bus")) {
    char path[] = "/tmp/wk-bus-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 2;
    unlink(path);
    /* An empty file mapped for one page: touching it is past its end. */
    volatile char *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return 2;
    return map[0];
  }
  if (!strcmp(mode, "abort")) abort();
  if (!strcmp(mode, "raise")) return raise(SIGTERM);
  if (!strcmp(mode, "selfgroup")) {
    setpgid(0, 0);
    return kill(0, SIGTERM);
  }
  if (!strcmp(mode, "pipe")) {
    int fds[2];
    if (pipe(fds)) return 2;
    close(fds[0]);
    return write(fds[1], "x", 1) < 0 ? 3 : 4;
  }
  if (!strcmp(mode, "xfsz")) {
    char path[] = "/tmp/wk-xfsz-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 2;
    unlink(path);
    /* A write that starts at or past the limit gets SIGXFSZ; one that crosses it is only cut short. */
    struct rlimit limit = {0, 0};
    setrlimit(RLIMIT_FSIZE, &limit);
    return write(fd, "x", 1) < 0 ? 3 : 4;
  }
  if ((!strcmp(mode, "cpu") || !strcmp(mode, "cpu-ign")) && argc > 3) {
    if (mode[3] == '-') signal(SIGXCPU, SIG_IGN);
    struct rlimit limit = {strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10)};
    if (setrlimit(RLIMIT_CPU, &limit)) return 2;
    spin();
  }
  if (!strcmp(mode, "spin")) spin();
  if (!strcmp(mode, "alarm")) {
    alarm(1);
    for (;;) pause();
  }
  if (!strcmp(mode, "itimer") || !strcmp(mode, "vtalrm")) {
    struct itimerval value = {{0, 0}, {0, 300000}};
    setitimer(mode[0] == 'i' ? ITIMER_REAL : ITIMER_VIRTUAL, &value, NULL);
    if (mode[0] == 'v') spin();
    for (;;) pause();
  }
  if (!strcmp(mode, "ptimer")) {
    timer_t timer;
    struct sigevent event = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
    if (timer_create(CLOCK_MONOTONIC, &event, &timer)) return 2;
    struct itimerspec spec = {{0, 0}, {0, 300000000}};
    timer_settime(timer, 0, &spec, NULL);
    for (;;) pause();
  }
  if (!strcmp(mode, "pdeath") && argc > 2) {
    int ready[2];
    if (pipe(ready)) return 2;
    pid_t child = fork();
    if (child < 0) return 2;
    if (child == 0) {
      close(ready[0]);
      prctl(PR_SET_NAME, "wk-orphan");
      prctl(PR_SET_PDEATHSIG, atoi(argv[2]));
      if (write(ready[1], "r", 1) != 1) _exit(2);
      close(ready[1]);
      for (;;) pause();
    }
    close(ready[1]);
    char byte;
    if (read(ready[0], &byte, 1) != 1) return 2;
    printf("%d\n", child);
    fflush(stdout);
    return 0;
  }
  fprintf(stderr, "usage: %s MODE (see the source)\n", argv[0]);
  return 100;
}
