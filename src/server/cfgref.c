#include "server/cfgref.h"

#include <pthread.h>
#include <stdlib.h>

struct cfgref {
	struct config *cfg;
	long refs; /* guarded by the holder's lock */
	struct cfgholder *holder;
};

struct cfgholder {
	pthread_mutex_t lock;
	struct cfgref *cur;
};

static struct cfgref *ref_new(struct cfgholder *h, struct config *cfg)
{
	struct cfgref *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->cfg = cfg;
	r->refs = 1; /* the holder's own reference */
	r->holder = h;
	return r;
}

int cfgholder_new(struct config *cfg, struct cfgholder **out)
{
	struct cfgholder *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (h == NULL)
		return JG_ERR_NOMEM;
	h->cur = ref_new(h, cfg);
	if (h->cur == NULL) {
		free(h);
		return JG_ERR_NOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	*out = h;
	return JG_OK;
}

void cfgholder_free(struct cfgholder *h)
{
	if (h == NULL)
		return;
	cfgref_put(h->cur);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

struct cfgref *cfgholder_get(struct cfgholder *h)
{
	struct cfgref *r;

	pthread_mutex_lock(&h->lock);
	r = h->cur;
	r->refs++;
	pthread_mutex_unlock(&h->lock);
	return r;
}

const struct config *cfgref_config(const struct cfgref *r)
{
	return r->cfg;
}

void cfgref_put(struct cfgref *r)
{
	struct cfgholder *h = r->holder;
	long left;

	pthread_mutex_lock(&h->lock);
	left = --r->refs;
	pthread_mutex_unlock(&h->lock);
	if (left == 0) {
		config_free(r->cfg);
		free(r);
	}
}

int cfgholder_stage(struct cfgholder *h, struct config *cfg, struct cfgref **staged)
{
	*staged = ref_new(h, cfg);
	return *staged ? JG_OK : JG_ERR_NOMEM;
}

void cfgholder_publish(struct cfgholder *h, struct cfgref *staged)
{
	struct cfgref *old;

	pthread_mutex_lock(&h->lock);
	old = h->cur;
	h->cur = staged;
	pthread_mutex_unlock(&h->lock);
	cfgref_put(old);
}
