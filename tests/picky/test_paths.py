"""picky/paths.py: the one walk over a payload's paths, and the three places that show it."""

from actions.http_services import structure_diff
from connectors.admin.display import path_tree
from picky.paths import MAX_PATHS, attribute_paths, payload_nodes, quote_key

PAYLOAD = {
    "customer": {"email": "asha@example.com", "address": {}},
    "items": [{"sku": "A-1", "tags": ["new"]}, {"sku": "B-2"}],
    "none": [],
    "Product Interested": "Solar Lamp",
    'say "hi"': 1,
}


def test_keys_are_quoted_when_not_simple():
    assert quote_key("email") == "email"
    assert quote_key("Product Interested") == '"Product Interested"'
    assert quote_key('say "hi"') == '"say \\"hi\\""'
    assert quote_key("1st") == '"1st"'


def test_the_walk_visits_parents_first_and_arrays_through_their_first_item():
    assert [(path, key, parent) for path, key, _, parent in payload_nodes(PAYLOAD)] == [
        ("event", None, None),
        ("event.customer", "customer", "event"),
        ("event.customer.email", "email", "event.customer"),
        ("event.customer.address", "address", "event.customer"),
        ("event.items", "items", "event"),
        ("event.items[0]", 0, "event.items"),
        ("event.items[0].sku", "sku", "event.items[0]"),
        ("event.items[0].tags", "tags", "event.items[0]"),
        ("event.items[0].tags[0]", 0, "event.items[0].tags"),
        ("event.none", "none", "event"),
        ('event."Product Interested"', "Product Interested", "event"),
        ('event."say \\"hi\\""', 'say "hi"', "event"),
    ]


def test_attribute_paths_are_leaves_arrays_and_empty_objects():
    assert attribute_paths(PAYLOAD) == [
        "event.customer.email",
        "event.customer.address",
        "event.items",
        "event.items[0].sku",
        "event.items[0].tags",
        "event.items[0].tags[0]",
        "event.none",
        'event."Product Interested"',
        'event."say \\"hi\\""',
    ]
    assert attribute_paths({}) == []
    assert attribute_paths({"a": 1}, prefix="vars.crm.response") == ["vars.crm.response.a"]


def test_at_most_max_paths():
    wide = {f"k{i}": i for i in range(MAX_PATHS + 10)}
    assert attribute_paths(wide) == [f"event.k{i}" for i in range(MAX_PATHS)]
    shown = path_tree(wide)
    assert len(shown) == MAX_PATHS - 1  # the root counts as a node


def test_the_payload_tree_shows_the_mapped_paths():
    tree = path_tree(PAYLOAD)

    def shown(nodes):
        for node in nodes:
            yield node["path"]
            yield from shown(node["children"])

    assert set(attribute_paths(PAYLOAD)) <= set(shown(tree))
    items = next(node for node in tree if node["label"] == "items")
    assert items["kind"] == "list of 2"
    assert [child["label"] for child in items["children"]] == ["[0] first item"]
    assert items["children"][0]["template"] == "{{ event.items[0] }}"


def test_a_response_structure_change_ignores_an_array_that_was_empty():
    old = {"contact": {"tags": [], "name": "Asha"}}
    new = {"contact": {"tags": [{"id": 1}], "name": "Asha", "city": "Kochi"}}
    assert structure_diff(old, new) == (["response.contact.city"], [])
    assert structure_diff(new, old) == ([], ["response.contact.city"])
