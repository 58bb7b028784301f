/* dist.h — the few MPI operations lunet needs, over MPI_COMM_WORLD and raw buffers.
 *
 * Knows nothing of Lua (csrc/mpi/lua_mpi.c is the binding). MPI's default error
 * handler stays in place: an MPI error aborts the whole job, because a failed
 * collective cannot be recovered and an abort beats every rank hanging.
 * All ranks must call the collectives (barrier, allreduce, broadcast, gather) in the
 * same order with the same element counts (lunet.mpi checks the counts with
 * ld_count_range first).
 */
#ifndef LUNET_DIST_H
#define LUNET_DIST_H

#include <stdint.h>

typedef enum { LD_UNINITIALIZED = 0, LD_RUNNING = 1, LD_FINALIZED = 2 } ld_state;

/* MPI_Init_thread (FUNNELED: only the main thread calls MPI; the thread pool's and OpenBLAS's
 * threads do not) and registers ld_exit_handler for the process's exit. Returns 0,
 * or -1 when MPI was already finalized (MPI cannot start twice). A second call while
 * running does nothing. */
int ld_init(void);
ld_state ld_get_state(void);
/* MPI_Finalize when running; harmless otherwise (never initialized, finalized twice). */
void ld_finalize(void);
/* MPI_Abort on every rank of the job with this exit code. */
void ld_abort(int code);

/* Rank in MPI_COMM_WORLD (0-based), its size, and the rank/size among the
 * processes on this host (those sharing memory), all fixed at ld_init. */
int ld_rank(void);
int ld_size(void);
int ld_local_rank(void);
int ld_local_size(void);
/* The host's name as MPI reports it; buf holds at least n bytes. */
void ld_host(char *buf, int n);

void ld_barrier(void);
/* The smallest and the largest n over the ranks, on every rank: a collective that
 * lets every rank refuse buffers of different sizes together, before any data moves. */
void ld_count_range(int64_t n, int64_t *lo, int64_t *hi);
/* x[i] = sum over ranks of x[i] (mean = 1: divided by the number of ranks), for
 * i in [0, n); in place. Every rank ends with the same bits. n may exceed INT_MAX. */
void ld_allreduce(float *x, int64_t n, int mean);
/* x[0..n) on every rank = x[0..n) of rank root. */
void ld_broadcast(float *x, int64_t n, int root);

/* Root's len, on every rank: the first half of a byte broadcast. */
int ld_broadcast_length(int len, int root);
/* buf[0..len) on every rank = buf[0..len) of rank root; len from ld_broadcast_length. */
void ld_broadcast_bytes(char *buf, int len, int root);
/* Lengths of every rank's message: lens[r] = len of rank r (lens holds ld_size()
 * entries). Collective; the first half of a gather, so that every rank knows the
 * total and all can refuse an oversized one together. */
void ld_gather_lengths(int len, int *lens);
/* Rank root receives every rank's len bytes into out, rank r's at out + displs[r]
 * (lens from ld_gather_lengths, displs their running sums, the total at most
 * INT_MAX); other ranks pass lens = displs = out = NULL. */
void ld_gather_bytes(const char *buf, int len, const int *lens, const int *displs, char *out, int root);

#endif
