"""Starts what the UI tests start (PostgreSQL behind the gateway, the IdP,
the daemon) and runs tests/ui/screenshots.mjs into OUTDIR.  Used by
scripts/screenshots.sh; not a test (the glob takes only test_*.py)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uitest  # noqa: E402


def main(outdir):
    case = uitest.UiCase()
    uitest.UiCase.setUpClass()
    try:
        case.setUp()
        try:
            env_file = case.write_env()
            env = dict(os.environ, JG_UI_URL=case.srv.url, JG_UI_ENV=env_file,
                       JG_CHROMIUM=uitest.CHROMIUM)
            return subprocess.run(["node", "screenshots.mjs", os.path.abspath(outdir)],
                                  cwd=uitest.UI_DIR, env=env).returncode
        finally:
            case.tearDown()
    finally:
        uitest.UiCase.tearDownClass()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/ui"))
