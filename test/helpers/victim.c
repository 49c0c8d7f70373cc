/*
 * Victims for signals the kernel sends on its own, for tracefs tests.
 *
 *   victim segv        dereference NULL: a real SIGSEGV (SEGV_MAPERR)
 *   victim hog MAXMB   allocate and touch memory 1 MiB at a time until the
 *                      OOM killer ends it; exits 3 if MAXMB is reached first
 *                      (the cgroup limit was not applied), so a broken test
 *                      cannot eat the machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "segv")) {
    volatile int *volatile nothing = NULL;
    *nothing = 1;
    return 2;
  }
  if (argc >= 3 && !strcmp(argv[1], "hog")) {
    long max = strtol(argv[2], NULL, 10);
    for (long i = 0; i < max; i++) {
      char *chunk = malloc(1 << 20);
      if (!chunk) return 4;
      memset(chunk, (int)(i & 0xff) | 1, 1 << 20);
    }
    return 3;
  }
  fprintf(stderr, "usage: victim segv | hog MAXMB\n");
  return 100;
}
