"""What a report looks like printed: boxes that run past the page's text width."""

from __future__ import annotations

from pathlib import Path


def past_text_width(html: Path, slack_px: float = 3.0) -> list[tuple[int, str, str | None, int]]:
    """Every element box (page, tag, id or class, px) that ends more than ``slack_px``
    past the text width of its A4 page when WeasyPrint lays ``html`` out for print:
    what a printed evidence pack would lose into, or past, the margin. The slack is for
    a figure's border."""
    import weasyprint

    document = weasyprint.HTML(filename=str(html)).render()
    over = []
    for number, page in enumerate(document.pages, 1):
        box = page._page_box
        right = box.content_box_x() + box.width
        for inner in box.descendants():
            if inner.element_tag is None:
                continue
            edge = inner.position_x + inner.margin_width()
            if edge > right + slack_px:
                element = inner.element
                name = element.get("id") or element.get("class") if element is not None else None
                over.append((number, inner.element_tag, name, round(edge - right)))
    return over
