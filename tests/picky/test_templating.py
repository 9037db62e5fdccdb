import pytest

from picky.templating import (
    TemplateSyntaxError,
    compile_path,
    render,
    render_deep,
    render_value,
    template_errors,
)

CONTEXT = {
    "event": {
        "customer": {"email": "a@b.co", "name": "Asha"},
        "items": [{"sku": "X1", "price": 10.0}, {"sku": "X2", "price": 2.5}],
        "Product Interested": "Lamp",
        "paid": True,
        "none": None,
    },
    "vars": {"n": 3},
}


@pytest.mark.parametrize(
    "template, expected",
    [
        ("Hi {{ event.customer.name }}!", "Hi Asha!"),
        ("{{event.items[0].sku}}", "X1"),
        ('{{ event."Product Interested" }}', "Lamp"),
        ("{{ length(event.items) }} items", "2 items"),
        ("{{ event.missing.deep }}|{{ event.none }}", "|"),
        ("{{ event.items[1] }}", '{"sku": "X2", "price": 2.5}'),
        ("{{ event.items[0].price }}", "10"),
        ("{{ event.paid }}", "true"),
        ("no holes", "no holes"),
        ("{{ abs(event.customer) }}", ""),
    ],
)
def test_render(template, expected):
    assert render(template, CONTEXT) == expected


def test_render_value_keeps_the_type_of_a_single_hole():
    assert render_value("{{ event.items }}", CONTEXT) == CONTEXT["event"]["items"]
    assert render_value("{{ vars.n }}", CONTEXT) == 3
    assert render_value(" {{ vars.n }}", CONTEXT) == " 3"


def test_render_deep_renders_keys_and_nested_values():
    assert render_deep({"{{ vars.n }}": ["{{ event.customer.email }}", 1]}, CONTEXT) == {
        "3": ["a@b.co", 1]
    }


def test_invalid_paths_are_reported_not_executed():
    assert template_errors("ok {{ event.a }}") == []
    assert template_errors("bad {{ event.[ }}")[0].startswith("Invalid path 'event.['")
    with pytest.raises(TemplateSyntaxError):
        compile_path("event.[")


def test_compiled_paths_are_cached():
    assert compile_path("event.customer.email") is compile_path("event.customer.email")
