/* Fuzzes the strict JSON body parser of the API with the field specs of
 * the create and check endpoints: whatever the input, it either yields an
 * object that satisfies the spec or an error naming why, never both; and
 * the check endpoint's fast path (body_strings) accepts only what
 * body_parse accepts, with the same strings, and leaves the rest untouched. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "util/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct field_spec create_spec[] = {
	{"resource", FIELD_STRING, true}, {"role", FIELD_STRING, true},
	{"duration", FIELD_STRING, true}, {"reason", FIELD_STRING, false},
	{"ticket", FIELD_STRING, false},  {"break_glass", FIELD_BOOL, false},
	{"extends", FIELD_INT, false},
};

static const struct field_spec check_spec[] = {
	{"subject", FIELD_STRING, true},
	{"resource", FIELD_STRING, true},
	{"role", FIELD_STRING, true},
};

static void check_fast_path(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	const char *vals[3];
	json_t *o = NULL;
	char msg[256];
	const char *field;
	int rc;

	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';
	rc = body_parse((const char *)data, size, check_spec, 3, &o, msg, sizeof(msg), &field);
	/* abort, not assert: this holds in release builds too */
	if (body_strings(copy, size, check_spec, 3, vals)) {
		if (rc != JG_OK)
			abort();
		for (size_t i = 0; i < 3; i++)
			if (strcmp(vals[i], body_str(o, check_spec[i].name)) != 0)
				abort();
	} else if (memcmp(copy, data, size) != 0) {
		abort();
	}
	json_decref(o);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *o = NULL;
	char msg[256];
	const char *field;
	int rc;

	check_fast_path(data, size);
	rc = body_parse((const char *)data, size, create_spec,
			sizeof(create_spec) / sizeof(create_spec[0]), &o, msg,
			sizeof(msg), &field);
	if (rc == JG_OK) {
		int64_t secs;

		assert(json_is_object(o));
		assert(body_str(o, "resource") != NULL);
		assert(body_str(o, "role") != NULL);
		assert(body_str(o, "duration") != NULL);
		if (duration_parse(body_str(o, "duration"), &secs) == JG_OK)
			assert(secs > 0 && secs <= DURATION_MAX_S);
		(void)body_bool(o, "break_glass");
		(void)body_int(o, "extends");
		json_decref(o);
	} else {
		assert(o == NULL);
		assert(msg[0] != '\0');
	}
	return 0;
}
