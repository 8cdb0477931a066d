"""Every page of the web UI in chromium (tests/ui): axe-core finds no
serious or critical violation in light and dark at desktop and phone width
(tests/ui/a11y.test.mjs), and the request form works with the keyboard
alone, errors beside their fields (tests/ui/keyboard.test.mjs)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run  # noqa: E402
from uitest import UiCase  # noqa: E402


class UiPagesTest(UiCase):
    def test_a11y_every_page(self):
        self.node("a11y.test.mjs")

    def test_keyboard_only(self):
        self.node("keyboard.test.mjs")


if __name__ == "__main__":
    run(UiPagesTest)
