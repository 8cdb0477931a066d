#include "core/deadlines.h"

#include <stdlib.h>

#include "util/vec.h"

static void swap(struct deadline *a, struct deadline *b)
{
	struct deadline t = *a;

	*a = *b;
	*b = t;
}

int deadlines_push(struct deadlines *h, int64_t at_ms, int64_t request_id)
{
	size_t i;

	if (h->n == h->cap) {
		struct deadline *v = vec_grow(h->v, &h->cap, sizeof(*v), 256);

		if (v == NULL)
			return JG_ERR_NOMEM;
		h->v = v;
	}
	i = h->n++;
	h->v[i].at_ms = at_ms;
	h->v[i].request_id = request_id;
	while (i > 0 && h->v[(i - 1) / 2].at_ms > h->v[i].at_ms) {
		swap(&h->v[(i - 1) / 2], &h->v[i]);
		i = (i - 1) / 2;
	}
	return JG_OK;
}

bool deadlines_peek(const struct deadlines *h, struct deadline *out)
{
	if (h->n == 0)
		return false;
	*out = h->v[0];
	return true;
}

bool deadlines_pop_due(struct deadlines *h, int64_t now_ms, struct deadline *out)
{
	size_t i = 0;

	if (h->n == 0 || h->v[0].at_ms > now_ms)
		return false;
	*out = h->v[0];
	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && h->v[l].at_ms < h->v[m].at_ms)
			m = l;
		if (r < h->n && h->v[r].at_ms < h->v[m].at_ms)
			m = r;
		if (m == i)
			break;
		swap(&h->v[i], &h->v[m]);
		i = m;
	}
	return true;
}

void deadlines_free(struct deadlines *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
