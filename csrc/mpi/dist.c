/* dist.c — lunet's MPI operations (see dist.h). */
#define _DEFAULT_SOURCE /* on_exit */
#include "dist.h"

#include <limits.h>
#include <stdlib.h>
#include <mpi.h>

static ld_state state = LD_UNINITIALIZED;
static int world_rank, world_size = 1, local_rank, local_size = 1;

/* Runs when the process exits, with exit's status. A clean exit finalizes MPI; a
 * failing one (a Lua error ends lua5.4 with status 1) aborts the job instead:
 * MPI_Finalize waits for every rank, so a rank that died while the others sat in a
 * collective would otherwise leave the whole job hanging. The module is linked with
 * -z nodelete, so this code stays mapped after Lua closes its state and unloads C
 * modules. */
static void ld_exit_handler(int status, void *unused) {
  (void)unused;
  if (state != LD_RUNNING) return;
  if (status != 0) ld_abort(status);
  ld_finalize();
}

int ld_init(void) {
  if (state == LD_RUNNING) return 0;
  if (state == LD_FINALIZED) return -1;
  int initialized, provided;
  MPI_Initialized(&initialized);
  if (!initialized) MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank);
  MPI_Comm_size(local, &local_size);
  MPI_Comm_free(&local);
  state = LD_RUNNING;
  on_exit(ld_exit_handler, NULL);
  return 0;
}

ld_state ld_get_state(void) { return state; }

void ld_finalize(void) {
  if (state != LD_RUNNING) return;
  state = LD_FINALIZED;
  int finalized;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void ld_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

int ld_rank(void) { return world_rank; }
int ld_size(void) { return world_size; }
int ld_local_rank(void) { return local_rank; }
int ld_local_size(void) { return local_size; }

void ld_host(char *buf, int n) {
  char name[MPI_MAX_PROCESSOR_NAME];
  int len;
  MPI_Get_processor_name(name, &len);
  if (n <= 0) return;
  int k = len < n - 1 ? len : n - 1;
  for (int i = 0; i < k; i++) buf[i] = name[i];
  buf[k] = '\0';
}

void ld_barrier(void) { MPI_Barrier(MPI_COMM_WORLD); }

/* One MIN reduction of (n, -n) gives both ends (counts are >= 0: -n cannot overflow). */
void ld_count_range(int64_t n, int64_t *lo, int64_t *hi) {
  int64_t v[2] = {n, -n};
  MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
  *lo = v[0];
  *hi = -v[1];
}

/* MPI counts are int: larger buffers go in INT_MAX-element pieces. */
void ld_allreduce(float *x, int64_t n, int mean) {
  for (int64_t at = 0; at < n; at += INT_MAX) {
    int64_t left = n - at;
    int count = left < INT_MAX ? (int)left : INT_MAX;
    MPI_Allreduce(MPI_IN_PLACE, x + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  if (mean && world_size > 1) {
    float k = (float)world_size;
    for (int64_t i = 0; i < n; i++) x[i] /= k;
  }
}

void ld_broadcast(float *x, int64_t n, int root) {
  for (int64_t at = 0; at < n; at += INT_MAX) {
    int64_t left = n - at;
    int count = left < INT_MAX ? (int)left : INT_MAX;
    MPI_Bcast(x + at, count, MPI_FLOAT, root, MPI_COMM_WORLD);
  }
}

int ld_broadcast_length(int len, int root) {
  MPI_Bcast(&len, 1, MPI_INT, root, MPI_COMM_WORLD);
  return len;
}

void ld_broadcast_bytes(char *buf, int len, int root) {
  MPI_Bcast(buf, len, MPI_CHAR, root, MPI_COMM_WORLD);
}

void ld_gather_lengths(int len, int *lens) {
  MPI_Allgather(&len, 1, MPI_INT, lens, 1, MPI_INT, MPI_COMM_WORLD);
}

void ld_gather_bytes(const char *buf, int len, const int *lens, const int *displs, char *out, int root) {
  MPI_Gatherv(buf, len, MPI_CHAR, out, lens, displs, MPI_CHAR, root, MPI_COMM_WORLD);
}
