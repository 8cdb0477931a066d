#include "api/body.h"

#include <stdio.h>
#include <string.h>

#include "util/jsonfast.h"

static const char *type_name(enum field_type t)
{
	switch (t) {
	case FIELD_STRING: return "a string";
	case FIELD_INT: return "an integer";
	case FIELD_BOOL: return "a boolean";
	}
	return "?";
}

static bool type_ok(const json_t *v, enum field_type t)
{
	switch (t) {
	case FIELD_STRING: return json_is_string(v);
	case FIELD_INT: return json_is_integer(v);
	case FIELD_BOOL: return json_is_boolean(v);
	}
	return false;
}

int body_parse(const char *buf, size_t len, const struct field_spec *spec,
	       size_t nspec, json_t **out, char *msg, size_t msglen,
	       const char **field)
{
	json_error_t jerr;
	json_t *o;
	const char *key;
	json_t *v;

	*out = NULL;
	*field = NULL;
	if (len > API_BODY_MAX) {
		snprintf(msg, msglen, "body larger than %d bytes", API_BODY_MAX);
		return JG_ERR_TOOBIG;
	}
	if (len == 0) {
		o = json_object();
	} else if ((o = jsonfast_parse(buf, len)) == NULL) {
		/* not a plain body: the general parser, with its messages */
		o = json_loadb(buf, len, JSON_REJECT_DUPLICATES,
			       &jerr);
		if (o == NULL) {
			snprintf(msg, msglen, "body is not valid JSON: %s (at byte %d)",
				 jerr.text, jerr.position);
			return JG_ERR_INVALID;
		}
	}
	if (!json_is_object(o)) {
		snprintf(msg, msglen, "body must be a JSON object");
		json_decref(o);
		return JG_ERR_INVALID;
	}
	json_object_foreach(o, key, v) {
		size_t i;

		for (i = 0; i < nspec; i++)
			if (strcmp(spec[i].name, key) == 0)
				break;
		if (i == nspec) {
			*field = NULL;
			snprintf(msg, msglen, "%.64s: unknown field", key);
			json_decref(o);
			return JG_ERR_INVALID;
		}
		if (json_is_null(v) && !spec[i].required)
			continue;
		if (!type_ok(v, spec[i].type)) {
			*field = spec[i].name;
			snprintf(msg, msglen, "%s: must be %s", spec[i].name,
				 type_name(spec[i].type));
			json_decref(o);
			return JG_ERR_INVALID;
		}
		if (spec[i].type == FIELD_STRING &&
		    strlen(json_string_value(v)) > API_STRING_MAX) {
			*field = spec[i].name;
			snprintf(msg, msglen, "%s: longer than %d bytes", spec[i].name,
				 API_STRING_MAX);
			json_decref(o);
			return JG_ERR_INVALID;
		}
	}
	for (size_t i = 0; i < nspec; i++) {
		v = json_object_get(o, spec[i].name);
		if (spec[i].required && (v == NULL || json_is_null(v))) {
			*field = spec[i].name;
			snprintf(msg, msglen, "%s: required", spec[i].name);
			json_decref(o);
			return JG_ERR_INVALID;
		}
	}
	*out = o;
	return JG_OK;
}

static size_t skip_ws(const char *buf, size_t len, size_t i)
{
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	return i;
}

/* At buf[i] == '"': the index of the closing quote of a string of
 * printable ASCII without escapes, or 0 (not such a string). */
static size_t plain_string_end(const char *buf, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '"')
			return i;
		if (ch < 0x20 || ch > 0x7e || ch == '\\')
			return 0;
	}
	return 0;
}

bool body_strings(char *buf, size_t len, const struct field_spec *spec, size_t nspec,
		  const char **vals)
{
	size_t start[BODY_STRINGS_MAX], end[BODY_STRINGS_MAX], i, k, ke, ve;

	if (buf == NULL || len == 0 || len > API_BODY_MAX || nspec > BODY_STRINGS_MAX)
		return false;
	for (k = 0; k < nspec; k++) {
		if (spec[k].type != FIELD_STRING)
			return false;
		end[k] = 0;
	}
	i = skip_ws(buf, len, 0);
	if (i == len || buf[i] != '{')
		return false;
	i = skip_ws(buf, len, i + 1);
	if (i < len && buf[i] == '}') {
		i++;
	} else {
		for (;;) {
			if (i == len || buf[i] != '"' || (ke = plain_string_end(buf, len, i)) == 0)
				return false;
			for (k = 0; k < nspec; k++)
				if (strlen(spec[k].name) == ke - i - 1 &&
				    memcmp(spec[k].name, buf + i + 1, ke - i - 1) == 0)
					break;
			if (k == nspec || end[k] != 0)
				return false; /* unknown or repeated */
			i = skip_ws(buf, len, ke + 1);
			if (i == len || buf[i] != ':')
				return false;
			i = skip_ws(buf, len, i + 1);
			if (i == len || buf[i] != '"' || (ve = plain_string_end(buf, len, i)) == 0 ||
			    ve - i - 1 > API_STRING_MAX)
				return false;
			start[k] = i + 1;
			end[k] = ve;
			i = skip_ws(buf, len, ve + 1);
			if (i < len && buf[i] == ',') {
				i = skip_ws(buf, len, i + 1);
				continue;
			}
			if (i < len && buf[i] == '}') {
				i++;
				break;
			}
			return false;
		}
	}
	if (skip_ws(buf, len, i) != len)
		return false;
	for (k = 0; k < nspec; k++)
		if (spec[k].required && end[k] == 0)
			return false;
	for (k = 0; k < nspec; k++) {
		vals[k] = end[k] ? buf + start[k] : NULL;
		if (end[k])
			buf[end[k]] = '\0';
	}
	return true;
}

const char *body_str(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

long long body_int(const json_t *o, const char *name)
{
	return json_integer_value(json_object_get(o, name));
}

bool body_bool(const json_t *o, const char *name)
{
	return json_is_true(json_object_get(o, name));
}
