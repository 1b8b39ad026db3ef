"""A deliberately simple language guess for rule conditions: the share of Cyrillic letters
among all letters. Enough to tell a Russian-speaking client from an English-speaking one
(the two languages the console speaks); no model, no dictionary, nothing to download."""

from typing import Literal

Guess = Literal["ru", "en"]


def guess(text: str) -> Guess | None:
    """ "ru" when at least half of the letters are Cyrillic, "en" when at least half are
    Latin, None when the text has no letters (emoji, digits)."""
    cyrillic = latin = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if "\u0400" <= ch <= "\u04ff":
            cyrillic += 1
        elif ch.isascii():
            latin += 1
    letters = cyrillic + latin
    if letters == 0:
        return None
    return "ru" if cyrillic * 2 >= letters else "en"
