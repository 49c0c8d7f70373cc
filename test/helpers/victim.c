/*
 * A victim for live tests.
 *
 *   victim          ignores the signals the tests send that would end it
 *                   (USR1, USR2, TERM, HUP, real-time), starts one extra
 *                   thread named "wk-thread", prints "TGID TID" and waits to
 *                   be killed (SIGKILL) or for stdin to close.
 *   victim segv     a real fault: dereferences NULL (SIGSEGV, si_code > 0).
 *   victim hog MB   allocates and touches memory until the OOM killer ends
 *                   it; exits 3 if MB were allocated without that happening.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile pid_t thread_tid;

static void *thread_main(void *arg) {
  (void)arg;
  prctl(PR_SET_NAME, "wk-thread");
  thread_tid = (pid_t)syscall(SYS_gettid);
  for (;;) pause();
  return NULL;
}

static int segv(void) {
  volatile int *volatile nowhere = NULL;
  return *nowhere;
}

static int hog(long megabytes) {
  for (long i = 0; i < megabytes; i++) {
    char *block = malloc(1 << 20);
    if (!block) return 2;
    memset(block, 0x5a, 1 << 20);
  }
  return 3;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "segv")) return segv();
  if (argc >= 3 && !strcmp(argv[1], "hog")) return hog(strtol(argv[2], NULL, 10));
  int ignored[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGHUP, SIGRTMIN, SIGRTMIN + 2, SIGRTMAX};
  for (unsigned i = 0; i < sizeof ignored / sizeof ignored[0]; i++) signal(ignored[i], SIG_IGN);
  pthread_t thread;
  pthread_create(&thread, NULL, thread_main, NULL);
  while (thread_tid == 0) usleep(1000);
  printf("%d %d\n", getpid(), thread_tid);
  fflush(stdout);
  char buf[1];
  while (read(0, buf, 1) > 0) {}
  return 0;
}
