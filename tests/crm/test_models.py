"""The label models: one base, each kind in its own table under the names its
migrations gave its rules."""

import pytest
from django.core.management import call_command

from crm.models import Category, Label, OptOutList, Tag


@pytest.mark.parametrize(
    "model, table, unique, index, related_name",
    [
        (Tag, "crm_tag", "unique_tag", "tag_lower_name", "tags"),
        (Category, "crm_category", "unique_category", "category_lower_name", "categories"),
        (OptOutList, "crm_optoutlist", "unique_optout_list", "optout_list_lower_name",
         "optout_lists"),
    ],
)  # fmt: skip
def test_each_label_keeps_its_table_rules_and_related_name(
    model, table, unique, index, related_name
):
    assert issubclass(model, Label)
    assert model._meta.db_table == table
    assert [constraint.name for constraint in model._meta.constraints] == [unique]
    assert [each.name for each in model._meta.indexes] == [index]
    assert model._meta.get_field("project").remote_field.related_name == related_name
    assert model._meta.ordering == ["name"]
    assert str(model(name="VIP")) == "VIP"


@pytest.mark.django_db
def test_the_models_match_their_migrations():
    call_command("makemigrations", "crm", check=True, dry_run=True, verbosity=0)
