#include "api/render.h"

#include "util/timeutil.h"

json_t *render_time(int64_t ms)
{
	char buf[TIME_RFC3339_LEN];

	if (ms == 0)
		return json_null();
	time_format(ms, buf);
	return json_string(buf);
}

static json_t *str(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *render_request(const struct request *r)
{
	json_t *appr = json_array();
	json_t *o;

	for (size_t i = 0; appr && i < r->napprovals; i++)
		json_array_append_new(appr, json_pack("{s:s, s:o, s:o}", "by",
						      r->approvals[i].by, "at",
						      render_time(r->approvals[i].at_ms),
						      "comment", str(r->approvals[i].comment)));
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:s, s:i, s:o,"
		      " s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:o, s:o, s:o}",
		      "id", (json_int_t)r->id, "state", req_state_name(r->state),
		      "requester", r->requester, "resource", r->resource, "role",
		      r->role, "duration_s", (json_int_t)r->duration_s, "reason",
		      str(r->reason), "ticket", str(r->ticket), "policy", r->policy,
		      "approvals_required", r->approvals_required, "approvals",
		      appr ? appr : json_array(), "created_at",
		      render_time(r->created_at), "pending_until",
		      render_time(r->pending_until), "activated_at",
		      render_time(r->activated_at), "expires_at",
		      render_time(r->expires_at), "ended_at",
		      render_time(r->ended_at), "ended_by", str(r->ended_by),
		      "break_glass", r->break_glass, "review_required",
		      r->review_required, "reviewed_by", str(r->reviewed_by),
		      "extends", r->extends ? json_integer(r->extends) : json_null(),
		      "end_comment", str(r->end_comment));
	return o;
}

json_t *render_error(const char *code, const char *message)
{
	return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
}
