/* pool.c: see pool.h. One mutex for both queues: jobs take milliseconds
 * (fsync), so the lock is never the bottleneck. */
#include "node/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void *pool_main(void *arg)
{
	struct node_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->mu);
		struct node_job *j = p->head;
		if (!j)
			break;                     /* stopping and nothing left */
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);

		j->run(j);

		pthread_mutex_lock(&p->mu);
		j->next = NULL;
		if (p->done_tail)
			p->done_tail->next = j;
		else
			p->done_head = j;
		p->done_tail = j;
		ev_async_send(p->loop, &p->wake);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void pool_reap(struct node_pool *p)
{
	pthread_mutex_lock(&p->mu);
	struct node_job *j = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	while (j) {
		struct node_job *next = j->next;
		p->done(p->ctx, j);
		j = next;
	}
}

static void pool_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)revents;
	pool_reap(w->data);
}

int node_pool_start(struct node_pool *p, struct ev_loop *loop, unsigned n,
		    void (*done)(void *ctx, struct node_job *job), void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->done = done;
	p->ctx = ctx;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	ev_async_init(&p->wake, pool_wake_cb);
	p->wake.data = p;
	ev_async_start(loop, &p->wake);
	p->threads = calloc(n, sizeof(*p->threads));
	if (!p->threads)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int e = pthread_create(&p->threads[i], NULL, pool_main, p);
		if (e) {
			node_pool_stop(p);
			return -e;
		}
		p->nr_threads++;
	}
	return 0;
}

void node_pool_submit(struct node_pool *p, struct node_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

void node_pool_stop(struct node_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nr_threads; i++)
		pthread_join(p->threads[i], NULL);
	p->nr_threads = 0;
	free(p->threads);
	p->threads = NULL;
	ev_async_stop(p->loop, &p->wake);
	pool_reap(p);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
}
