#include "core/principal.h"

#include <string.h>

bool subject_in_group(const struct subject *s, const char *group)
{
	for (size_t i = 0; i < s->ngroups; i++)
		if (strcmp(s->groups[i], group) == 0)
			return true;
	return false;
}

long principal_list_find(const struct principal_list *list,
			 const struct subject *s)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct principal *p = &list->v[i];

		if (p->kind == PRINCIPAL_USER && strcmp(p->name, s->name) == 0)
			return (long)i;
		if (p->kind == PRINCIPAL_GROUP && subject_in_group(s, p->name))
			return (long)i;
	}
	return -1;
}

bool principal_list_matches(const struct principal_list *list,
			    const struct subject *s)
{
	return principal_list_find(list, s) >= 0;
}
