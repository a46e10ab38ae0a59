"""The layout: each kind of thing in a room of its own, none of them too big to read at once."""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
# Beyond this a module holds more than one kind of thing; split it (the import contracts are in
# pyproject.toml, checked by make lint).
MAX_LINES = 300


def test_no_module_of_the_app_is_over_the_size_a_reader_holds_at_once() -> None:
    sizes = {str(path.relative_to(APP)): len(path.read_text().splitlines()) for path in APP.rglob("*.py")}

    assert len(sizes) > 20  # the whole package was read
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}
