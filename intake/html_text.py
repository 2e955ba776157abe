"""HTML mail → plain text. Nothing of the markup survives: no tags, scripts, styles or images.

Staff read reports as text, so an HTML mail can never run script or fetch a tracking image
in the console. Links keep their address in brackets (it can be evidence), but only for
http(s) and mailto; other schemes are dropped.
"""

from __future__ import annotations

from html.parser import HTMLParser

# Their content is not text a person wrote to us.
_SKIPPED = frozenset(
    {"script", "style", "head", "title", "noscript", "template", "svg", "iframe", "object"}
)
_BLOCKS = frozenset(
    {
        "p", "div", "br", "tr", "table", "blockquote", "pre", "hr", "section", "article",
        "header", "footer", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd",
    }
)  # fmt: skip
_LINK_SCHEMES = ("http://", "https://", "mailto:")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skip_depth = 0
        self._links: list[str | None] = []
        self._link_start: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
            return
        if tag in _BLOCKS:
            self.pieces.append("\n")
        if tag == "li":
            self.pieces.append("\n• ")
        elif tag in ("td", "th"):
            self.pieces.append("\t")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._links.append(href.strip() if href.strip().startswith(_LINK_SCHEMES) else None)
            self._link_start.append(len(self.pieces))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag in _BLOCKS or tag == "li":
            self.pieces.append("\n")
        elif tag == "a" and self._links:
            href = self._links.pop()
            start = self._link_start.pop()
            label = "".join(self.pieces[start:]).strip()
            if href and href.removeprefix("mailto:") != label:
                self.pieces.append(f"（{href}）")

    def handle_data(self, data: str) -> None:
        if self._skip_depth == 0:
            self.pieces.append(" ".join(data.split()) if data.strip() else " ")


def html_to_text(html: str) -> str:
    """The readable text of an HTML document, one paragraph per line."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = ("".join(collector.pieces)).split("\n")
    kept = [" ".join(line.replace("\t", " ").split()) for line in lines]
    text = "\n".join(kept)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()
