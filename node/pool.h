/*
 * pool.h: a fixed pool of worker threads running jobs (store calls) off the
 * event loop. Finished jobs are queued back and the loop is woken with
 * ev_async; node_pool_reap() (loop thread only) hands them to done().
 * The loop thread alone touches sockets; workers only touch the job.
 */
#ifndef NODE_POOL_H
#define NODE_POOL_H

#include <ev.h>
#include <pthread.h>

struct node_job {
	struct node_job *next;
	void (*run)(struct node_job *job);      /* in a worker thread */
};

struct node_pool {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct node_job *head, *tail;            /* waiting to run */
	struct node_job *done_head, *done_tail;  /* finished, not yet reaped */
	int stopping;
	unsigned nr_threads;
	pthread_t *threads;
	struct ev_loop *loop;
	ev_async wake;                           /* workers -> loop */
	void (*done)(void *ctx, struct node_job *job);   /* loop thread */
	void *ctx;
};

/* Starts n threads. done() runs in the loop thread for every finished job,
 * in completion order. 0 or -errno. */
int node_pool_start(struct node_pool *p, struct ev_loop *loop, unsigned n,
		    void (*done)(void *ctx, struct node_job *job), void *ctx);
/* Queues a job (loop thread). */
void node_pool_submit(struct node_pool *p, struct node_job *job);
/* Lets workers finish the queued jobs, joins them, reaps what finished.
 * Call after every job has been submitted. */
void node_pool_stop(struct node_pool *p);

#endif
