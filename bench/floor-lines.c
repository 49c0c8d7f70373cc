/*
 * bench/floor.ts --native: line ends found by libc's memchr from C, compiled
 * at start by the TinyCC inside Bun (bun:ffi cc). No #include: a machine
 * with only Node and npm has no C headers; Bun resolves memchr.
 */
typedef unsigned long size_t;
void *memchr(const void *s, int c, size_t n);

/* The lines ending in b[0, end): how many; out[0] = where the incomplete line after them starts. */
int count_lines(const unsigned char *b, int end, int *out) {
  int lines = 0;
  int at = 0;
  for (;;) {
    const unsigned char *newline = memchr(b + at, '\n', (size_t)(end - at));
    if (!newline) break;
    lines++;
    at = (int)(newline - b) + 1;
  }
  out[0] = at;
  return lines;
}
