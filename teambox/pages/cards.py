"""Event-feed cards as the conversation page draws them. The card was checked when the
action stored it; it is checked again here, since the page trusts nothing it did not
write itself: colours must read as colours (webcolors) and become #rrggbb, links must be
http(s) addresses, anything else is dropped or shown as plain text."""

import webcolors

from ..media import web_address

INLINE = "inline"
IMAGE_ENDINGS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")
# Card keys to CSS properties.
COLOURS = {
    "background_colour": "background-color",
    "border_colour": "border-color",
    "text_colour": "color",
}


def safe_colour(value):
    """`value` as #rrggbb when it is #rgb, #rrggbb or a CSS colour name; else None."""
    text = str(value or "").strip()
    try:
        return (
            webcolors.normalize_hex(text) if text.startswith("#") else webcolors.name_to_hex(text)
        )
    except ValueError:
        return None


def style_of(settings):
    """An inline style from the colours of `settings` that pass safe_colour."""
    parts = []
    for key, prop in COLOURS.items():
        colour = safe_colour(settings.get(key)) if settings.get(key) else None
        if colour:
            parts.append(f"{prop}:{colour}")
    return ";".join(parts)


def card_of(data):
    """The card of a timeline line's data: subject, body, media (`media_url`,
    `media_is_image`), buttons (name, url or "" when not a web address, inline, style)
    and the card's style."""
    data = data if isinstance(data, dict) else {}
    media_url = web_address(data.get("media_url"))
    buttons = data.get("buttons") if isinstance(data.get("buttons"), list) else []
    return {
        "subject": str(data.get("subject") or ""),
        "body": str(data.get("body") or ""),
        "media_url": media_url,
        "media_is_image": media_url.lower().split("?")[0].endswith(IMAGE_ENDINGS),
        "style": style_of(data),
        "buttons": [
            {
                "name": str(button.get("name") or ""),
                "url": web_address(button.get("url")),
                "inline": button.get("opens") == INLINE,
                "style": style_of(button),
            }
            for button in buttons
            if isinstance(button, dict)
        ],
    }
