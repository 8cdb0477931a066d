/* Fuzzes the strict JSON body parser of the API with the field specs of
 * the create and check endpoints: whatever the input, it either yields an
 * object that satisfies the spec or an error naming why, never both. */
#include <assert.h>
#include <stdint.h>
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *o = NULL;
	char msg[256];
	const char *field;
	int rc;

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
