"""The web UI's workflow in chromium, several people at once (tests/ui):
the whole request → two live approvals → active with countdown → revoke
that cuts a psql session through the gateway, alice signed in at the IdP
(flow.test.mjs); a dropped event stream that says so, resumes with
Last-Event-ID and catches up (live.test.mjs); hostile text rendered as
text and a cross-site form post refused (security.test.mjs); refusals
explained with the API's message (refusals.test.mjs); extending a grant,
break-glass reviews audited as the API's, and the psql line with the
gateway's address (lifecycle.test.mjs)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run  # noqa: E402
from uitest import UiCase  # noqa: E402


class UiFlowTest(UiCase):
    IDP_PEOPLE = ("test_workflow_live",)

    def test_workflow_live(self):
        self.node("flow.test.mjs")

    def test_stream_drop_and_resume(self):
        self.node("live.test.mjs")

    def test_hostile_text_and_cross_site(self):
        self.node("security.test.mjs")

    def test_refusals_explained(self):
        self.node("refusals.test.mjs")

    def test_extend_review_and_psql_line(self):
        self.node("lifecycle.test.mjs")


if __name__ == "__main__":
    run(UiFlowTest)
