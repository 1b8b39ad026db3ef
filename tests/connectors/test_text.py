"""The split rule every connector's max_text_length goes through (connectors/text.py)."""

from connectors.text import split_text


def test_a_paragraph_break_wins_over_a_line_break_and_a_space() -> None:
    text = "a" * 60 + "\n\n" + "b" * 20 + "\n" + "c" * 10 + " " + "d" * 40
    parts = split_text(text, 100)
    assert parts[0] == "a" * 60 + "\n\n"
    assert "".join(parts) == text


def test_a_line_break_wins_over_a_space() -> None:
    text = "a" * 55 + "\n" + "b" * 20 + " " + "c" * 60
    assert split_text(text, 100)[0] == "a" * 55 + "\n"


def test_a_space_before_a_hard_cut() -> None:
    text = "a" * 70 + " " + "b" * 60
    assert split_text(text, 100) == ["a" * 70 + " ", "b" * 60]
    assert split_text("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]


def test_a_break_too_early_is_not_taken() -> None:
    """A break in the first half of the window would leave a stub of a message."""
    text = "a" * 10 + "\n\n" + "b" * 200
    assert split_text(text, 100) == [text[:100], text[100:200], text[200:]]


def test_lengths_are_utf16_units_and_nothing_is_lost() -> None:
    assert [len(p) for p in split_text("😀" * 3000, 4096)] == [2048, 952]
    assert split_text("", 10) == [""]
    assert split_text("short", 10) == ["short"]
