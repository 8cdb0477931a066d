#include "gateway/kdfpool.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"

struct kdf_job {
	struct kdf_job *next;
	char *password;
	struct scram_kdf kdf;
	uint8_t salted[SCRAM_KEY_LEN];
	int rc;
	atomic_bool cancelled; /* set on the loop; workers only peek */
	kdf_done_fn done;
	void *arg;
};

struct job_list {
	struct kdf_job *head, *tail;
	size_t n;
};

struct kdfpool {
	pthread_mutex_t lock; /* guards the lists and the flags below */
	pthread_cond_t cond;
	struct job_list todo, finished;
	bool stop, hold;
	pthread_t *threads;
	size_t nthreads;
	int efd;
	struct event *ev;
};

static void list_push(struct job_list *l, struct kdf_job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static struct kdf_job *list_pop(struct job_list *l)
{
	struct kdf_job *j = l->head;

	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
	}
	return j;
}

static void job_free(struct kdf_job *j)
{
	if (j->password) {
		OPENSSL_cleanse(j->password, strlen(j->password));
		free(j->password);
	}
	OPENSSL_cleanse(j, sizeof(*j));
	free(j);
}

static void *worker(void *arg)
{
	struct kdfpool *p = arg;
	uint64_t one = 1;

	(void)pthread_setname_np(pthread_self(), "jg-kdf");
	/* Linux nice is per thread: derivations yield the CPU to the loop
	 * (best effort; raising one's own niceness needs no privilege) */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
			KDFPOOL_NICE) != 0)
		log_debug("gateway", "kdf worker nice: %s", strerror(errno));

	for (;;) {
		struct kdf_job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->stop && (p->hold || !p->todo.head))
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		j = list_pop(&p->todo);
		pthread_mutex_unlock(&p->lock);

		if (!atomic_load(&j->cancelled))
			j->rc = scram_salted_password(j->password, &j->kdf,
						      j->salted);
		OPENSSL_cleanse(j->password, strlen(j->password));

		pthread_mutex_lock(&p->lock);
		list_push(&p->finished, j);
		pthread_mutex_unlock(&p->lock);
		if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_error("gateway", "kdf eventfd write: %s",
				  strerror(errno));
	}
}

/* Loop thread: runs the callbacks of finished jobs. */
static void finished_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kdfpool *p = arg;
	struct job_list done;
	struct kdf_job *j;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("gateway", "kdf eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&p->lock);
	done = p->finished;
	memset(&p->finished, 0, sizeof(p->finished));
	pthread_mutex_unlock(&p->lock);
	/* a callback may free another session, cancelling a job further on
	 * in this list: the flag is read just before each call */
	while ((j = list_pop(&done)) != NULL) {
		if (!atomic_load(&j->cancelled))
			j->done(j->arg, j->rc, j->salted);
		job_free(j);
	}
}

int kdfpool_new(struct event_base *base, size_t nthreads,
		struct kdfpool **out)
{
	struct kdfpool *p;
	int rc = JG_ERR_NOMEM;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return JG_ERR_NOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->threads = calloc(nthreads ? nthreads : 1, sizeof(*p->threads));
	if (p->efd < 0 || !p->threads) {
		rc = p->efd < 0 ? JG_ERR_IO : JG_ERR_NOMEM;
		goto out;
	}
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, finished_cb, p);
	if (!p->ev || event_add(p->ev, NULL) != 0)
		goto out;
	for (; p->nthreads < nthreads; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, worker,
				   p) != 0) {
			rc = JG_ERR_INTERNAL;
			goto out;
		}
	*out = p;
	p = NULL;
	rc = 0;
out:
	kdfpool_free(p);
	return rc;
}

void kdfpool_free(struct kdfpool *p)
{
	struct kdf_job *j;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while ((j = list_pop(&p->todo)) != NULL)
		job_free(j);
	while ((j = list_pop(&p->finished)) != NULL)
		job_free(j);
	if (p->ev)
		event_free(p->ev);
	if (p->efd >= 0)
		close(p->efd);
	free(p->threads);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int kdfpool_submit(struct kdfpool *p, const char *password,
		   const struct scram_kdf *kdf, kdf_done_fn done, void *arg,
		   struct kdf_job **out)
{
	struct kdf_job *j;

	*out = NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return JG_ERR_NOMEM;
	j->password = strdup(password);
	if (!j->password) {
		free(j);
		return JG_ERR_NOMEM;
	}
	j->kdf = *kdf;
	j->done = done;
	j->arg = arg;
	atomic_init(&j->cancelled, false);
	pthread_mutex_lock(&p->lock);
	if (p->todo.n >= KDFPOOL_QUEUE_MAX) {
		pthread_mutex_unlock(&p->lock);
		job_free(j);
		return JG_ERR_UNAVAILABLE;
	}
	list_push(&p->todo, j);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	*out = j;
	return 0;
}

void kdfpool_cancel(struct kdf_job *job)
{
	if (job)
		atomic_store(&job->cancelled, true);
}

void kdfpool_test_hold(struct kdfpool *p, bool hold)
{
	pthread_mutex_lock(&p->lock);
	p->hold = hold;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
