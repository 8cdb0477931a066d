/* Subjects (who acts) and principals ("user:NAME" / "group:NAME"). */
#ifndef JG_CORE_PRINCIPAL_H
#define JG_CORE_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>

#define SUBJECT_NAME_MAX 256
#define SUBJECT_GROUPS_MAX 256

enum principal_kind { PRINCIPAL_USER, PRINCIPAL_GROUP };

struct principal {
	enum principal_kind kind;
	char *name;
};

struct principal_list {
	struct principal *v;
	size_t n;
};

/* An authenticated subject.  Borrowed strings: the owner (identity layer)
 * keeps them alive for the duration of a call into the core. */
struct subject {
	const char *name;
	const char *const *groups;
	size_t ngroups;
};

/* Index of the first principal in list that names s, -1 when none. */
long principal_list_find(const struct principal_list *list,
			 const struct subject *s);
/* True when s is named by any principal in list. */
bool principal_list_matches(const struct principal_list *list,
			    const struct subject *s);
/* True when s is in the given group. */
bool subject_in_group(const struct subject *s, const char *group);

#endif
