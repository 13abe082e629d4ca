"""French and English for the console: gettext catalogues (Babel .po files) and the reader's choice.

French comes first: a reader whose browser asks for neither language gets French. The choice made
with the switcher is kept in a cookie. Messages that come from the services (errors, the scheduler's
reasons) stay in English, as in the API."""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from fastapi import Request

LOCALE_DIR = Path(__file__).parent / "locale"
LANGS = ("fr", "en")
DEFAULT = "fr"
LANG_COOKIE = "brique_lang"
Gettext = Callable[..., str]


def load_catalogues() -> dict[str, gettext.NullTranslations]:
    """Each language's .po, compiled in memory at start (English is the source text)."""
    out: dict[str, gettext.NullTranslations] = {"en": gettext.NullTranslations()}
    for lang in LANGS:
        po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
        if lang == "en" or not po.exists():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        out[lang] = gettext.GNUTranslations(buf)
    return out


def chosen(request: Request) -> str:
    """The switcher's cookie, else the browser's first language we have, else French."""
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGS:
        return cookie
    ranked = []
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            ranked.append((float(q) if q else 1.0, tag.split("-")[0].lower()))
        except ValueError:
            continue
    for _, lang in sorted(ranked, key=lambda r: -r[0]):
        if lang in LANGS:
            return lang
    return DEFAULT


def translator(catalogue: gettext.NullTranslations) -> Gettext:
    def _(message: str, **values: object) -> str:
        text = catalogue.gettext(message)
        return text % values if values else text

    return _


def N_(message: str) -> str:
    return message


# Values the pages show through `_(value)`: marked here so that extraction puts them in the catalogues.
VALUES = (
    N_("pending"), N_("scheduled"), N_("running"), N_("suspended"), N_("succeeded"), N_("failed"), N_("cancelled"),
    N_("preempted"), N_("lost"), N_("start"), N_("wait"), N_("reject"), N_("allocation"), N_("health"),
    N_("site"), N_("up"), N_("draining"), N_("down"), N_("approved"), N_("denied"), N_("revoked"),
    N_("expired"), N_("job"), N_("project"),
)  # fmt: skip
