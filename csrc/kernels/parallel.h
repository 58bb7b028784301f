/* parallel.h — one thread count for OpenBLAS and lunet's thread pool (threadpool.h). */
#ifndef LUNET_PARALLEL_H
#define LUNET_PARALLEL_H

/* Reads LUNET_NUM_THREADS (default: the number of cores) and sets both pools. */
void lt_parallel_init(void);
void lt_set_num_threads(int n);
int lt_get_num_threads(void);

#endif
