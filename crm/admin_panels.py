"""Pieces the CRM's admin pages share (contacts, and the record store's pages in
crm/records/admin/): the members a user choice offers, and a table of rows."""

from django.contrib.auth import get_user_model
from django.utils.html import format_html, format_html_join

from picky.models import Membership


def members_of(projects):
    return get_user_model().objects.filter(
        pk__in=Membership.objects.filter(project__in=projects).values("user")
    )


def panel(headers, rows, empty):
    if not rows:
        return empty
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html('<table class="picky-panel"><tr>{}</tr>{}</table>', head, body)
