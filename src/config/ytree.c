#include "config/ytree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "util/vec.h"

struct builder {
	const char *name;
	char *err;
	size_t errlen;
	struct ytree *root;
	struct ytree *stack[YTREE_DEPTH_MAX];
	size_t depth;
	size_t nodes;
	int docs;
};

static void JG_PRINTF(3, 4)
berr(struct builder *b, int line, const char *fmt, ...)
{
	va_list ap;
	int off;

	if (b->errlen == 0)
		return;
	off = snprintf(b->err, b->errlen, "%s:%d: ", b->name, line);
	if (off < 0 || (size_t)off >= b->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(b->err + off, b->errlen - (size_t)off, fmt, ap);
	va_end(ap);
}

void ytree_free(struct ytree *t)
{
	/* Recursion is bounded by YTREE_DEPTH_MAX. */
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nkids; i++)
		ytree_free(t->kids[i]);
	free(t->kids);
	free(t->str);
	free(t);
}

const char *ytree_type_name(const struct ytree *t)
{
	if (t == NULL)
		return "nothing";
	switch (t->type) {
	case YTREE_SCALAR:
		return (t->plain && t->len == 0) ? "an empty value" : "a scalar";
	case YTREE_SEQ:
		return "a list";
	case YTREE_MAP:
		return "a mapping";
	}
	return "?";
}

static int add_kid(struct ytree *parent, struct ytree *kid)
{
	if (parent->nkids == parent->cap) {
		struct ytree **nk = vec_grow(parent->kids, &parent->cap, sizeof(*nk), 4);

		if (nk == NULL)
			return JG_ERR_NOMEM;
		parent->kids = nk;
	}
	parent->kids[parent->nkids++] = kid;
	parent->n = parent->type == YTREE_MAP ? parent->nkids / 2
					      : parent->nkids;
	return JG_OK;
}

/* Hands node to its parent (or makes it the root).  In a mapping every even
 * slot is a key and must be a scalar. */
static int attach(struct builder *b, struct ytree *node)
{
	struct ytree *parent;

	if (b->depth == 0) {
		b->root = node;
		return JG_OK;
	}
	parent = b->stack[b->depth - 1];
	if (parent->type == YTREE_MAP && parent->nkids % 2 == 0 &&
	    node->type != YTREE_SCALAR) {
		berr(b, node->line,
		     "mapping keys must be plain strings, not %s",
		     ytree_type_name(node));
		ytree_free(node);
		return JG_ERR_PARSE;
	}
	if (add_kid(parent, node) < 0) {
		berr(b, node->line, "out of memory");
		ytree_free(node);
		return JG_ERR_NOMEM;
	}
	return JG_OK;
}

static struct ytree *new_node(struct builder *b, enum ytree_type type,
			      int line)
{
	struct ytree *t;

	if (++b->nodes > YTREE_NODES_MAX) {
		berr(b, line, "more than %d YAML nodes",
		     YTREE_NODES_MAX);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		berr(b, line, "out of memory");
		return NULL;
	}
	t->type = type;
	t->line = line;
	return t;
}

/* Refuses what the config format leaves out on purpose. */
static int check_plain(struct builder *b, int line, const yaml_char_t *anchor,
		       const yaml_char_t *tag)
{
	if (anchor != NULL) {
		berr(b, line,
		     "YAML anchors are not allowed in the config");
		return JG_ERR_PARSE;
	}
	if (tag != NULL) {
		berr(b, line,
		     "YAML tags are not allowed in the config");
		return JG_ERR_PARSE;
	}
	return JG_OK;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev, int line)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct ytree *t;
	int rc;

	rc = check_plain(b, line, ev->data.scalar.anchor, ev->data.scalar.tag);
	if (rc < 0)
		return rc;
	if (len > YTREE_SCALAR_MAX) {
		berr(b, line, "value longer than %d bytes",
		     YTREE_SCALAR_MAX);
		return JG_ERR_TOOBIG;
	}
	if (memchr(v, '\0', len) != NULL) {
		berr(b, line, "value contains a NUL character");
		return JG_ERR_PARSE;
	}
	t = new_node(b, YTREE_SCALAR, line);
	if (t == NULL)
		return b->nodes > YTREE_NODES_MAX ? JG_ERR_TOOBIG : JG_ERR_NOMEM;
	t->str = malloc(len + 1);
	if (t->str == NULL) {
		ytree_free(t);
		berr(b, line, "out of memory");
		return JG_ERR_NOMEM;
	}
	memcpy(t->str, v, len);
	t->str[len] = '\0';
	t->len = len;
	t->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return attach(b, t);
}

static int on_open(struct builder *b, enum ytree_type type, int line,
		   const yaml_char_t *anchor, const yaml_char_t *tag)
{
	struct ytree *t;
	int rc;

	rc = check_plain(b, line, anchor, tag);
	if (rc < 0)
		return rc;
	if (b->depth == YTREE_DEPTH_MAX) {
		berr(b, line, "nested deeper than %d levels",
		     YTREE_DEPTH_MAX);
		return JG_ERR_TOOBIG;
	}
	t = new_node(b, type, line);
	if (t == NULL)
		return b->nodes > YTREE_NODES_MAX ? JG_ERR_TOOBIG : JG_ERR_NOMEM;
	rc = attach(b, t);
	if (rc < 0)
		return rc;
	b->stack[b->depth++] = t;
	return JG_OK;
}


static int on_event(struct builder *b, const yaml_event_t *ev, bool *done)
{
	int line = (int)ev->start_mark.line + 1;

	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
	case YAML_NO_EVENT:
		return JG_OK;
	case YAML_STREAM_END_EVENT:
		*done = true;
		return JG_OK;
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1) {
			berr(b, line,
			     "only one YAML document is allowed");
			return JG_ERR_PARSE;
		}
		return JG_OK;
	case YAML_ALIAS_EVENT:
		berr(b, line,
		     "YAML aliases are not allowed in the config");
		return JG_ERR_PARSE;
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev, line);
	case YAML_SEQUENCE_START_EVENT:
		return on_open(b, YTREE_SEQ, line,
			       ev->data.sequence_start.anchor,
			       ev->data.sequence_start.tag);
	case YAML_MAPPING_START_EVENT:
		return on_open(b, YTREE_MAP, line,
			       ev->data.mapping_start.anchor,
			       ev->data.mapping_start.tag);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth == 0) { /* libyaml never does this; be safe */
			berr(b, line, "unbalanced YAML");
			return JG_ERR_PARSE;
		}
		b->depth--;
		return JG_OK;
	}
	return JG_OK;
}

int ytree_parse(const char *name, const char *text, size_t len,
		struct ytree **out, char *err, size_t errlen)
{
	struct builder b = {.name = name, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	bool done = false;
	int rc = JG_OK;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (!yaml_parser_initialize(&parser)) {
		berr(&b, 0, "out of memory");
		return JG_ERR_NOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				berr(&b, 0, "out of memory");
				rc = JG_ERR_NOMEM;
			} else {
				berr(&b, (int)parser.problem_mark.line + 1,
				     "YAML syntax error: %s%s%s",
				     parser.problem ? parser.problem : "?",
				     parser.context ? " " : "",
				     parser.context ? parser.context : "");
				rc = JG_ERR_PARSE;
			}
			goto out;
		}
		rc = on_event(&b, &ev, &done);
		yaml_event_delete(&ev);
		if (rc < 0) {
			rc = rc == JG_ERR_NOMEM ? JG_ERR_NOMEM : JG_ERR_PARSE;
			goto out;
		}
	}
	*out = b.root;
	b.root = NULL;
out:
	ytree_free(b.root);
	yaml_parser_delete(&parser);
	return rc;
}
