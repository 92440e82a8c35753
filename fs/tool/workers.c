/* Helper threads for cfs_config.parallel (see workers.h). */
#include "fs/tool/workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <immintrin.h>

enum { MAX_HELPERS = 7, SPIN_NS = 50000 };

/* One helper: it runs items [first, end) of the posted job. */
struct helper {
	struct workers *w;
	pthread_t thread;
	atomic_int posted;          /* a job waits for this helper */
	atomic_int finished;        /* this helper is done with it */
	size_t first, end;
};

struct workers {
	pthread_mutex_t lock;       /* held by the one caller using the helpers */
	pid_t pid;                  /* the process the helpers run in */
	int wanted;                 /* helpers to start on first use */
	pthread_mutex_t sleep_lock;
	pthread_cond_t wake;
	atomic_bool stopping;
	void (*work)(void *arg, size_t i);
	void *arg;
	int nhelpers;
	struct helper h[MAX_HELPERS];
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Wait for a job: spin a while (jobs come in quick bursts), then sleep. */
static bool wait_for_job(struct helper *h)
{
	long long until = now_ns() + SPIN_NS;

	while (!atomic_load(&h->posted) && !atomic_load(&h->w->stopping)) {
		if (now_ns() < until) {
			_mm_pause();
			continue;
		}
		pthread_mutex_lock(&h->w->sleep_lock);
		while (!atomic_load(&h->posted) && !atomic_load(&h->w->stopping))
			pthread_cond_wait(&h->w->wake, &h->w->sleep_lock);
		pthread_mutex_unlock(&h->w->sleep_lock);
	}
	return !atomic_load(&h->w->stopping);
}

static void *helper_main(void *arg)
{
	struct helper *h = arg;

	while (wait_for_job(h)) {
		atomic_store(&h->posted, 0);
		for (size_t i = h->first; i < h->end; i++)
			h->w->work(h->w->arg, i);
		atomic_store(&h->finished, 1);
	}
	return NULL;
}

struct workers *workers_start(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct workers *w;

	if (cpus < 2)
		return NULL;
	w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->sleep_lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->wanted = cpus - 1 < MAX_HELPERS ? (int)cpus - 1 : MAX_HELPERS;
	return w;
}

/* Start the helpers in this process, on first use: a FUSE mount forks into
 * the background after the volume is set up, and threads do not survive a
 * fork.  With w->lock held. */
static bool helpers_ready(struct workers *w)
{
	if (w->nhelpers == 0 && w->wanted > 0) {
		w->pid = getpid();
		for (int i = 0; i < w->wanted; i++) {
			w->h[i].w = w;
			if (pthread_create(&w->h[i].thread, NULL, helper_main, &w->h[i]) != 0)
				break;
			w->nhelpers++;
		}
		w->wanted = 0;
	}
	return w->nhelpers > 0 && w->pid == getpid();
}

void workers_stop(struct workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->sleep_lock);
	atomic_store(&w->stopping, true);
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->sleep_lock);
	for (int i = 0; i < w->nhelpers && w->pid == getpid(); i++)
		pthread_join(w->h[i].thread, NULL);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->sleep_lock);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void workers_run(void *ctx, void (*work)(void *arg, size_t i), void *arg, size_t n)
{
	struct workers *w = ctx;
	size_t share, mine;

	if (!w || n < 2 || pthread_mutex_trylock(&w->lock) != 0) {
		for (size_t i = 0; i < n; i++)
			work(arg, i);
		return;
	}
	if (!helpers_ready(w)) {
		pthread_mutex_unlock(&w->lock);
		for (size_t i = 0; i < n; i++)
			work(arg, i);
		return;
	}
	w->work = work;
	w->arg = arg;
	share = n / (size_t)(w->nhelpers + 1);
	mine = n - share * (size_t)w->nhelpers;     /* the caller takes the rest */
	for (int i = 0; i < w->nhelpers; i++) {
		w->h[i].first = mine + (size_t)i * share;
		w->h[i].end = w->h[i].first + share;
		atomic_store(&w->h[i].finished, share == 0);
		if (share)
			atomic_store(&w->h[i].posted, 1);
	}
	pthread_mutex_lock(&w->sleep_lock);
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->sleep_lock);
	for (size_t i = 0; i < mine; i++)
		work(arg, i);
	for (int i = 0; i < w->nhelpers; i++)
		while (!atomic_load(&w->h[i].finished))
			_mm_pause();
	pthread_mutex_unlock(&w->lock);
}
