import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import queries, services
from crm.models import Category, Contact, OptOutList, Tag
from picky.names import name_in, name_is


@pytest.mark.parametrize(
    "raw, number",
    [
        ("+91 98470-12345", "919847012345"),
        ("0091 9847012345", "919847012345"),
        (919847012345, "919847012345"),
    ],
)
def test_numbers_are_normalised(raw, number):
    assert services.clean_number(raw) == number


@pytest.mark.parametrize("raw", ["12345", "abc", "+1 234 567 890 123 456"])
def test_bad_numbers_say_what_is_wrong(raw):
    with pytest.raises(services.ContactError, match="not a WhatsApp number.*country code"):
        services.clean_number(raw)


def test_upsert_creates_then_updates_by_number(project):
    first = services.upsert_contact(project, "+91 98470 12345", name="Asha", email="ASHA@X.IN")
    assert (first.number, first.email) == ("919847012345", "asha@x.in")
    again = services.upsert_contact(
        project, "919847012345", name="Asha Rao", attributes={"state": "Kerala"}
    )
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.name == "Asha Rao"
    assert again.attributes == {"state": "Kerala"}
    assert Contact.objects.count() == 1


def test_upsert_without_number_uses_email(project):
    by_email = services.upsert_contact(project, "", email="lead@example.com", name="Lead")
    assert by_email.number == ""
    assert services.upsert_contact(project, "", email="LEAD@example.com").pk == by_email.pk
    assert services.upsert_contact(project, "", name="Nobody") is None


def test_upsert_refuses_a_bad_email(project):
    with pytest.raises(services.ContactError, match="not an e-mail address"):
        services.upsert_contact(project, "919847012345", email="n/a")


def test_contacts_are_per_project(project, other_project):
    a = services.upsert_contact(project, "919847012345")
    b = services.upsert_contact(other_project, "919847012345")
    assert a.pk != b.pk


def test_tags_are_case_insensitive_and_shared(project):
    one = services.upsert_contact(project, "919847012345")
    two = services.upsert_contact(project, "919847012346")
    services.add_tags(one, "VIP, Lead")
    services.add_tags(two, ["vip"])
    assert Tag.objects.filter(project=project).count() == 2
    assert sorted(services.contact_as_context(two)["tags"]) == ["VIP"]
    assert services.remove_tags(one, ["lead", "unknown"]) == ["Lead"]
    assert services.contact_as_context(one)["tags"] == ["VIP"]


def test_context_carries_everything(project, member):
    contact = services.upsert_contact(project, "919847012345", name="Asha")
    services.add_categories(contact, ["Retail"])
    services.opt_out(contact, "Promotions")
    services.change_owner(contact, services.project_agent(project, "member"))
    context = services.contact_as_context(contact)
    assert context["categories"] == ["Retail"]
    assert context["optouts"] == ["Promotions"]
    assert context["owner"] == "member"
    assert context["blacklisted"] is False


def test_owner_must_be_a_member(project, other_project, member):
    with pytest.raises(services.ContactError, match="No member of project 'globex'"):
        services.project_agent(other_project, "member")


def test_refusal_reasons(project):
    contact = services.upsert_contact(project, "919847012345")
    assert services.refusal_reason(contact, "Promotions") == ""
    services.opt_out(contact, "Promotions")
    assert "opted out of 'promotions'" in services.refusal_reason(contact, "promotions")
    assert services.refusal_reason(contact, "Billing") == ""
    services.set_blacklisted(contact, True)
    assert services.refusal_reason(contact) == "The contact is blacklisted."
    assert services.opt_in(contact, "PROMOTIONS") is True


def test_reply_address_round_trip(project, settings):
    settings.PICKY_REPLY_DOMAIN = "reply.shop.example"
    contact = services.upsert_contact(project, "919847012345")
    address = services.reply_address(contact)
    assert address.startswith("reply+") and address.endswith("@reply.shop.example")
    assert services.reply_address(contact) == address
    found = services.contact_for_reply_address(project, address.upper())
    assert found.pk == contact.pk
    assert services.contact_for_reply_address(project, "someone@else.example") is None


def test_segment_by_tags_categories_attributes_and_interaction(project):
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    kerala = services.upsert_contact(project, "919800000001", attributes={"state": "Kerala"})
    goa = services.upsert_contact(project, "919800000002", attributes={"state": "Goa"})
    spaced = services.upsert_contact(project, "919800000003", attributes={"home state": "Goa"})
    services.add_tags(kerala, ["VIP"])
    services.add_tags(goa, ["vip", "Lead"])
    services.add_categories(goa, ["Retail"])
    services.record_interaction(kerala, now - timedelta(hours=2))
    services.record_interaction(goa, now - timedelta(hours=30))

    def ids(**segment):
        with time_machine.travel(now, tick=False):
            return set(services.segment_contacts(project, **segment).values_list("pk", flat=True))

    assert ids(tags=["VIP"]) == {kerala.pk, goa.pk}
    assert ids(tags=["VIP"], categories=["retail"]) == {goa.pk}
    assert ids(attributes={"state": "Kerala"}) == {kerala.pk}
    assert ids(attributes={"home state": "Goa"}) == {spaced.pk}
    assert ids(interacted_within_hours=24) == {kerala.pk}
    assert ids() == {kerala.pk, goa.pk, spaced.pk}


def test_messageable_leaves_out_blacklisted_and_opted_out(project):
    a = services.upsert_contact(project, "919800000001")
    b = services.upsert_contact(project, "919800000002")
    c = services.upsert_contact(project, "919800000003")
    services.set_blacklisted(a, True)
    services.opt_out(b, "Promotions")
    contacts = services.segment_contacts(project)
    assert set(services.messageable(contacts, "promotions")) == {c}
    assert set(services.messageable(contacts)) == {b, c}


def test_pause_smart_replies(project):
    contact = services.upsert_contact(project, "919847012345")
    with time_machine.travel(datetime(2026, 3, 1, 12, tzinfo=UTC), tick=False):
        services.pause_smart_replies(contact, timedelta(hours=2))
        assert services.smart_replies_paused(contact)
    with time_machine.travel(datetime(2026, 3, 1, 14, 1, tzinfo=UTC), tick=False):
        assert not services.smart_replies_paused(contact)


@pytest.mark.django_db
def test_the_contact_context_and_tagging_cost_one_query_each(project, django_assert_num_queries):
    contact = services.upsert_contact(project, "919847012345", name="Asha")
    services.add_tags(contact, ["VIP", "lead"])
    services.add_categories(contact, ["Retail"])
    services.opt_out(contact, "Promotions")
    with django_assert_num_queries(1):
        labels = services.labels_of(contact)
    assert labels == {"tags": ["VIP", "lead"], "categories": ["Retail"], "optouts": ["Promotions"]}
    # Tags that exist: found and linked in one statement on PostgreSQL; elsewhere one
    # lookup for all the names and one insert of the links.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        assert services.add_tags(contact, ["vip", "LEAD"]) == ["VIP", "lead"]


@pytest.mark.django_db
def test_add_tags_links_old_and_new_tags_once_in_the_order_given(project):
    contact = services.upsert_contact(project, "919847012345")
    other = services.upsert_contact(project, "919847012346")
    services.add_tags(other, ["lead"])
    services.add_tags(contact, ["VIP"])
    assert services.add_tags(contact, ["new", "Lead", "vip", " ", "NEW"]) == ["new", "lead", "VIP"]
    assert sorted(contact.tags.values_list("name", flat=True)) == ["VIP", "lead", "new"]
    assert list(other.tags.values_list("name", flat=True)) == ["lead"]
    assert services.add_tags(contact, []) == []


@pytest.mark.django_db
def test_new_tags_are_created_and_linked_in_one_more_statement(project, django_assert_num_queries):
    contact = services.upsert_contact(project, "919847012345")
    services.add_tags(contact, ["VIP"])
    # PostgreSQL: the existing tag found and linked, the new ones created and linked; elsewhere
    # a lookup, one get-or-create per new tag (a lookup, an insert in a savepoint), the links.
    expected = 2 if connection.vendor == "postgresql" else 2 + 2 * 4
    with django_assert_num_queries(expected):
        assert services.add_tags(contact, ["vip", "Diwali", "lead"]) == ["VIP", "Diwali", "lead"]
    assert sorted(contact.tags.values_list("name", flat=True)) == ["Diwali", "VIP", "lead"]
    assert Tag.objects.filter(project=project).count() == 3


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement path")
def test_a_tag_created_meanwhile_by_another_run_is_found_and_linked(project):
    contact = services.upsert_contact(project, "919847012345")
    # As if a concurrent run created "lead" between add_tags' lookup and its INSERT.
    taken = Tag.objects.create(project=project, name="lead")
    created = queries.create_and_link_tags(contact, ["lead", "new"])
    assert created["lead"] == taken
    assert sorted(created) == ["lead", "new"]
    assert sorted(contact.tags.values_list("name", flat=True)) == ["lead", "new"]
    assert Tag.objects.filter(project=project).count() == 2


def plan_of(sql, params=()):
    """PostgreSQL's plan for a statement, sequential scans ruled out."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def looks_up_lower_name_through(index, plan):
    """Whether `plan` scans `index` with a condition on LOWER(name), not only on project."""
    node = rf"(Index Scan using|Bitmap Index Scan on) {index} .*\n\s+Index Cond: "
    return re.search(node + r"\(\(project_id = .*\) AND \(lower\(\(name\)::text\)", plan)


def many_names(model, project, count=2000):
    """A project with `count` names of `model`, and PostgreSQL's statistics of them (on an
    empty table the planner has no reason to prefer one index condition to another)."""
    model.objects.bulk_create(model(project=project, name=f"name {n}") for n in range(count))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {model._meta.db_table}")


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
@pytest.mark.parametrize(
    "model, index",
    [(Tag, "tag_lower_name"), (Category, "category_lower_name"),
     (OptOutList, "optout_list_lower_name")],
)  # fmt: skip
def test_names_are_found_case_insensitively_through_an_index(project, model, index):
    """A run looks its tags, categories and opt-out lists up by LOWER(name); a project may
    have thousands, which a scan of the project's names would read on every run."""
    many_names(model, project)
    plan = plan_of(queries.named_query(model, 2), [project.pk, "vip", "lead"])
    assert looks_up_lower_name_through(index, plan), plan
    # Segments, opt-out lists and single names filter with picky.names (iexact's
    # UPPER(name) could not use these indexes).
    for condition in (name_is("VIP"), name_in(["VIP", "Lead"])):
        plan = plan_of(*model.objects.filter(condition, project=project).query.sql_with_params())
        assert looks_up_lower_name_through(index, plan), plan


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_a_single_name_is_found_through_the_same_index(project):
    many_names(Tag, project)
    contact = services.upsert_contact(project, "919847012345")
    services.add_tags(contact, ["VIP"])
    with CaptureQueriesContext(connection) as queries:
        assert services.remove_tags(contact, ["vip"]) == ["VIP"]
    plan = plan_of(queries.captured_queries[0]["sql"])
    assert looks_up_lower_name_through("tag_lower_name", plan), plan


@pytest.mark.django_db
def test_a_run_finds_its_contact_and_the_contacts_labels_in_one_query(
    project, django_assert_num_queries
):
    contact, labels = services.upsert_contact_with_labels(project, "+91 98470 12345", name="Asha")
    assert labels == {"tags": [], "categories": [], "optouts": []}
    services.add_tags(contact, ["VIP", "lead"])
    services.add_categories(contact, ["Retail"])
    services.opt_out(contact, "Promotions")
    with django_assert_num_queries(1):
        found, labels = services.upsert_contact_with_labels(project, "919847012345", name="Asha")
    assert found == contact
    assert labels == services.labels_of(contact)
    assert labels == {"tags": ["VIP", "lead"], "categories": ["Retail"], "optouts": ["Promotions"]}
    assert services.contact_as_context(found, labels) == services.contact_as_context(contact)
    # Found by e-mail address, the labels are left to labels_of.
    by_email, labels = services.upsert_contact_with_labels(project, "", email="a@example.com")
    assert labels is not None and by_email.email == "a@example.com"
    assert services.upsert_contact_with_labels(project, "", email="A@example.com")[1] is None


@pytest.mark.django_db
def test_a_contact_is_inserted_unless_its_number_is_taken_and_the_transaction_goes_on(project):
    values = {"project_id": project.pk, "number": "919847000001", "name": "Asha",
              "email": "", "attributes": {"state": "Kerala"}}  # fmt: skip
    made = queries.insert_contact_unless_number_taken(values)
    stored = Contact.objects.get(pk=made.pk)
    assert (stored.number, stored.name, stored.attributes) == (
        "919847000001",
        "Asha",
        {"state": "Kerala"},
    )
    assert stored.created_at and stored.blacklisted is False and stored.owner is None  # defaults
    assert (made.created_at, made.updated_at) == (stored.created_at, stored.updated_at)
    # Taken (as by a concurrent run): nothing inserted, no error, the transaction usable.
    assert queries.insert_contact_unless_number_taken({**values, "name": "Other"}) is None
    assert Contact.objects.filter(project=project).count() == 1
    # Contacts without a number are never taken.
    email_only = {**values, "number": "", "email": "a@example.com"}
    assert queries.insert_contact_unless_number_taken(email_only) is not None
    assert queries.insert_contact_unless_number_taken(email_only) is not None
    assert Contact.objects.filter(project=project, number="").count() == 2
