/* Growable arrays: the one place that computes a new capacity, so every
 * array doubles the same way and none can overflow size_t doing it. */
#ifndef JG_UTIL_VEC_H
#define JG_UTIL_VEC_H

#include <stddef.h>

/* Reallocates v (an array of *cap elements of elem bytes; NULL when *cap
 * is 0) to twice *cap elements, or first when *cap is 0.  Returns the new
 * array and sets *cap; NULL when out of memory or the size would
 * overflow, with v and *cap unchanged (v still owned by the caller). */
void *vec_grow(void *v, size_t *cap, size_t elem, size_t first);

#endif
