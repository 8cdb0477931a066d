#include "util/vec.h"

#include <stdint.h>
#include <stdlib.h>

void *vec_grow(void *v, size_t *cap, size_t elem, size_t first)
{
	size_t ncap = *cap ? *cap : first;
	void *nv;

	if (*cap > SIZE_MAX / 2 || elem == 0 || ncap == 0)
		return NULL;
	if (*cap)
		ncap = *cap * 2;
	if (ncap > SIZE_MAX / elem)
		return NULL;
	nv = realloc(v, ncap * elem);
	if (nv != NULL)
		*cap = ncap;
	return nv;
}
