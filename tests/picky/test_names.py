"""picky/names.py: every case-insensitive name lookup is LOWER(column) = LOWER(name)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import services as crm
from crm.models import Tag
from teambox import services as messaging
from teambox.broadcasts import skip_reasons
from teambox.models import Broadcast, Channel

# iexact: UPPER(...) on PostgreSQL, LIKE ... ESCAPE on SQLite.
OTHER_CASE_RULES = re.compile(r"\bUPPER\(|\bLIKE\b", re.IGNORECASE)


def lowered_on_both_sides(statements, column):
    """Whether every statement that compares `column` whatever the case lowers both sides."""
    sql = [query["sql"] for query in statements]
    compared = [text for text in sql if re.search(rf'LOWER\([^)]*"?{column}"?\)', text)]
    return bool(compared) and not any(OTHER_CASE_RULES.search(text) for text in sql)


@pytest.mark.django_db
def test_a_channel_is_found_by_its_name_whatever_the_case(project):
    main = Channel.objects.create(project=project, name="Main", kind=Channel.Kind.SANDBOX)
    with CaptureQueriesContext(connection) as queries:
        assert messaging.channel_named(project, " MAIN ") == main
    assert lowered_on_both_sides(queries.captured_queries, "name")


@pytest.mark.django_db
def test_an_agent_is_found_by_username_or_email_whatever_the_case(project, member):
    member.email = "Member@Example.com"
    member.save()
    with CaptureQueriesContext(connection) as queries:
        assert crm.project_agent(project, "MEMBER") == member
        assert crm.project_agent(project, "member@example.COM") == member
    assert lowered_on_both_sides(queries.captured_queries, "username")
    assert lowered_on_both_sides(queries.captured_queries, "email")


@pytest.mark.django_db
def test_segments_and_opt_out_lists_find_names_whatever_the_case(project):
    vip = crm.upsert_contact(project, "919800000001")
    out = crm.upsert_contact(project, "919800000002")
    crm.add_tags(vip, ["VIP"])
    crm.add_categories(vip, ["Retail"])
    crm.add_tags(out, ["vip"])
    crm.opt_out(out, "Promotions")
    channel = Channel.objects.create(project=project, name="Main", kind=Channel.Kind.SANDBOX)
    broadcast = Broadcast(project=project, channel=channel, optout_list="PROMOTIONS")
    with CaptureQueriesContext(connection) as queries:
        segment = crm.segment_contacts(project, tags=["vip"], categories=["RETAIL"])
        assert list(segment) == [vip]
        tagged = crm.segment_contacts(project, tags=["Vip"])
        assert set(crm.messageable(tagged, "promotions")) == {vip}
        assert set(crm.opted_out(tagged, "PROMOTIONS")) == {out}
        assert set(skip_reasons(broadcast, tagged)) == {out.pk}
    assert lowered_on_both_sides(queries.captured_queries, "name")


@pytest.mark.django_db
def test_a_name_the_database_lowers_differently_from_python_is_found(project):
    # SQLite's LOWER leaves "É" alone while Python's str.lower does not: comparing
    # LOWER(name) with a name Python lowered never found the tag, and tagging with it
    # again failed (the unique name refused the INSERT, the lookup after it found nothing).
    contact = crm.upsert_contact(project, "919800000001")
    assert crm.add_tags(contact, ["Émile"]) == ["Émile"]
    assert crm.add_tags(contact, ["Émile"]) == ["Émile"]
    assert crm.remove_tags(contact, ["Émile"]) == ["Émile"]
    assert Tag.objects.filter(project=project).count() == 1
