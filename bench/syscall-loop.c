/*
 * bench/overhead.ts's probe: what the kernel's state costs a process that
 * has nothing to do with signals. Built with gcc into a temporary directory.
 *
 *   syscall-loop getppid N        N getppid() calls (no rule or tracepoint is
 *                                 about it); prints nanoseconds per call
 *   syscall-loop kill N SIG       N kill(child, SIG) to a child it started
 *                                 (SIG 0: a probe, which whokilled's rules
 *                                 filter out in the kernel); prints kills per second
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: syscall-loop getppid N | kill N SIG\n");
    return 2;
  }
  long n = strtol(argv[2], NULL, 10);
  if (n <= 0) {
    fprintf(stderr, "syscall-loop: N must be a positive number, got %s\n", argv[2]);
    return 2;
  }
  if (strcmp(argv[1], "getppid") == 0) {
    double start = now_ns();
    /* syscall(2), not the libc wrapper: every iteration enters the kernel. */
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    printf("%.2f\n", (now_ns() - start) / (double)n);
    return 0;
  }
  if (strcmp(argv[1], "kill") == 0 && argc == 4) {
    int sig = atoi(argv[3]);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
      perror("syscall-loop: fork");
      return 1;
    }
    if (child == 0) {
      /* Dies with its parent, whatever ends the parent. */
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      for (;;) pause();
    }
    double start = now_ns();
    for (long i = 0; i < n; i++) {
      if (kill(child, sig) != 0) {
        perror("syscall-loop: kill");
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 1;
      }
    }
    double elapsed = now_ns() - start;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    printf("%.0f\n", (double)n * 1e9 / elapsed);
    return 0;
  }
  fprintf(stderr, "usage: syscall-loop getppid N | kill N SIG\n");
  return 2;
}
