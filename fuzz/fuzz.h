/* fuzz.h — helpers the fuzz targets share. */
#ifndef LUNET_FUZZ_H
#define LUNET_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* libFuzzer's entry points and its built-in mutator (for the custom mutators). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The parsers under test open files by path, so each input is written to one
 * temporary file per fuzzing process (on /dev/shm when there is one, so no
 * disk is touched) and the parser is pointed at it. */
static char fuzz_path[64];

static inline void fuzz_file_remove(void) { unlink(fuzz_path); }

/* Writes data to this process's temporary file and returns its path. */
static inline const char *fuzz_file(const uint8_t *data, size_t size) {
  if (!fuzz_path[0]) {
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_path, sizeof fuzz_path, "%s/lunet-fuzz-%ld", dir, (long)getpid());
    atexit(fuzz_file_remove);
  }
  FILE *f = fopen(fuzz_path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
    perror(fuzz_path);
    abort();
  }
  return fuzz_path;
}

/* The element count of sizes a parser accepted (so the product cannot overflow);
 * 0 when any size is 0, whatever the others. */
static inline int64_t fuzz_numel(int ndim, const int64_t *size) {
  for (int d = 0; d < ndim; d++)
    if (size[d] == 0) return 0;
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= size[d];
  return n;
}

#endif
