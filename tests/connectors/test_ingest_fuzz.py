"""Hostile input at the ingest: random JSON, deep nesting, huge strings, invalid
UTF-8, odd numbers and wrong content types always get a clear 4xx or an
accepted event, never a 500.

`hostile_requests` and `check_answer` are also used by the fault drills
(bench/drills), which fire the same requests at a real gunicorn over HTTP.
"""

import json
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.models import Event
from picky.json_input import check_storable, json_surely_storable

LIMIT = 1024 * 1024

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)


@dataclass
class HostileRequest:
    method: str
    body: bytes
    content_type: str | None
    query: str = ""
    headers: dict = field(default_factory=dict)

    def path(self, token):
        return f"/hooks/{token}" + (f"?{self.query}" if self.query else "")


def json_bodies():
    """Valid JSON of any shape, sent with a JSON or a text type."""
    return st.builds(
        lambda value, content_type: HostileRequest(
            "POST", json.dumps(value).encode(), content_type
        ),
        json_values,
        st.sampled_from(
            ["application/json", "application/json; charset=utf-8", "text/plain",
             "application/vnd.api+json", None]
        ),
    )  # fmt: skip


def nested_bodies():
    """Arrays and objects nested up to several thousand levels deep."""

    def nest(depth, kind):
        if kind == "array":
            return b"[" * depth + b"]" * depth
        return b'{"a":' * depth + b"1" + b"}" * depth

    return st.builds(
        lambda depth, kind: HostileRequest("POST", nest(depth, kind), "application/json"),
        st.integers(min_value=1, max_value=5000),
        st.sampled_from(["array", "object"]),
    )


def huge_bodies():
    """Long strings just under and over the size limit, in JSON and in a form."""

    def build(length, form):
        if form:
            return HostileRequest(
                "POST", b"s=" + b"x" * length, "application/x-www-form-urlencoded"
            )
        return HostileRequest("POST", b'{"s": "' + b"x" * length + b'"}', "application/json")

    return st.builds(
        build,
        st.sampled_from([1000, LIMIT - 100, LIMIT - 8, LIMIT + 1, 3 * LIMIT]),
        st.booleans(),
    )


def odd_json_bodies():
    """Texts that JSON parsers disagree on or databases refuse."""
    return st.builds(
        lambda text, content_type: HostileRequest("POST", text.encode(), content_type),
        st.sampled_from(
            [
                '{"n": NaN}', '{"n": Infinity}', '{"n": -Infinity}', '{"n": 1e999}',
                '{"n": -1e999}', '{"n": ' + "9" * 5000 + "}", '{"n": ' + "9" * 300 + "}",
                '{"s": "\\u0000"}', '{"\\u0000": 1}', '{"s": "\\ud800"}', '{"s": "\\udfff x"}',
                '{"a": 1, "a": 2}', '{"a": 1} trailing', "", "   ", "\ufeff{}", "[]", "null",
                '"just text"', "{", "}", '{"a":}', "'single'",
            ]
        ),
        st.sampled_from(["application/json", "text/plain", None]),
    )  # fmt: skip


def binary_bodies():
    """Arbitrary bytes (mostly invalid UTF-8) with any content type."""
    return st.builds(
        lambda body, content_type: HostileRequest("POST", body, content_type),
        st.binary(min_size=1, max_size=300),
        st.sampled_from(
            ["application/json", "text/plain", "application/x-www-form-urlencoded",
             "multipart/form-data", "multipart/form-data; boundary=xyz", None,
             "application/xml", "image/png", "text/html; charset=latin-1",
             "application/json; charset=utf-16", "application/octet-stream", ";;;", "x/y; a=b"]
        ),
    )  # fmt: skip


def form_and_query_requests():
    """Forms and query strings with any text, percent-encoded or raw bytes."""

    def encoded(pairs):
        return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)

    pairs = st.lists(st.tuples(st.text(max_size=10), st.text(max_size=30)), max_size=5)
    raw_query = st.text(
        alphabet=st.sampled_from("abc=&%0F9xz+;[]{}\"'"), max_size=40
    )  # hand-made escapes, broken ones included
    return st.one_of(
        st.builds(lambda p: HostileRequest("GET", b"", None, encoded(p)), pairs),
        st.builds(lambda q: HostileRequest("GET", b"", None, q), raw_query),
        st.builds(
            lambda p, q: HostileRequest(
                "POST", encoded(p).encode(), "application/x-www-form-urlencoded", q
            ),
            pairs,
            raw_query,
        ),
    )


def keyed_requests():
    """Idempotency keys of any printable length; a repeat must not be an error."""
    return st.builds(
        lambda key: HostileRequest("POST", b"{}", "application/json", "", {"X-Request-Id": key}),
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=300),
    )


def hostile_requests():
    return st.one_of(
        json_bodies(),
        nested_bodies(),
        huge_bodies(),
        odd_json_bodies(),
        binary_bodies(),
        form_and_query_requests(),
        keyed_requests(),
    )


def check_answer(status, body):
    """Assert a clear answer; return the event id it names (accepted or rejected)."""
    assert status < 500, f"server error {status}: {body[:300]!r}"
    answer = json.loads(body)
    if status == 200:
        assert answer["status"] == "accepted", answer
        return int(answer["event"])
    assert 400 <= status < 500, status
    assert answer["status"] == "rejected", answer
    assert answer["error"] and answer["message"], answer
    return int(answer["event"])


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=hostile_requests())
def test_hostile_input_gets_a_clear_answer_and_accepted_events_are_stored(
    client, connector, request
):
    extra = {"headers": request.headers}
    if request.content_type is not None:
        extra["content_type"] = request.content_type
    else:
        extra["content_type"] = ""
    response = client.generic(request.method, request.path(connector.token), request.body, **extra)
    event_id = check_answer(response.status_code, response.content)
    event = Event.objects.get(pk=event_id)
    if response.status_code == 200:
        assert event.status in (Event.Status.QUEUED,)
        assert isinstance(event.payload, dict)
        # The stored payload reads back as the same JSON the sender meant.
        assert json.loads(json.dumps(event.payload)) == event.payload
    else:
        assert event.status == Event.Status.REJECTED
        assert event.error


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, code",
    [
        ('{"n": NaN}', "unsupported_number"),
        ('{"n": -Infinity}', "unsupported_number"),
        ('{"n": 1e999}', "unsupported_number"),
        ('{"n": ' + "9" * 5000 + "}", "unsupported_number"),
        ('{"s": "a\\u0000b"}', "unsupported_character"),
        ('{"\\u0000": 1}', "unsupported_character"),
        ('{"s": ["ok", "\\ud800"]}', "unsupported_character"),
    ],
)
def test_values_no_database_stores_are_a_clear_400(client, connector, body, code):
    response = client.post(f"/hooks/{connector.token}", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == code
    assert Event.objects.get().status == Event.Status.REJECTED


@pytest.mark.django_db
def test_the_error_says_where_the_bad_text_is(client, connector):
    response = client.post(
        f"/hooks/{connector.token}",
        data='{"order": {"lines": [{"sku": "A"}, {"sku": "B\\u0000"}]}}',
        content_type="application/json",
    )
    assert "'order.lines[1].sku'" in response.json()["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["name=a%00b", "a%00=1"])
def test_nul_in_a_query_string_or_form_is_a_clear_400(client, connector, query):
    by_get = client.get(f"/hooks/{connector.token}?{query}")
    by_form = client.post(
        f"/hooks/{connector.token}", data=query, content_type="application/x-www-form-urlencoded"
    )
    assert by_get.status_code == by_form.status_code == 400
    assert by_get.json()["error"] == by_form.json()["error"] == "unsupported_character"


@pytest.mark.django_db
def test_a_rejected_binary_body_is_kept_readable(client, connector):
    response = client.post(
        f"/hooks/{connector.token}", data=b"\x00\x01{", content_type="application/json"
    )
    assert response.status_code == 400
    assert Event.objects.get().raw_body == "\ufffd\x01{"


@pytest.mark.django_db
def test_large_but_finite_numbers_are_kept(client, connector):
    response = client.post(
        f"/hooks/{connector.token}",
        data='{"big": ' + "9" * 300 + ', "small": 1e-300, "neg": -12.5}',
        content_type="application/json",
    )
    assert response.status_code == 200
    assert Event.objects.get().payload == {"big": int("9" * 300), "small": 1e-300, "neg": -12.5}


def nested_object(depth):
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.django_db
def test_nesting_up_to_the_limit_is_accepted(client, connector):
    response = client.post(
        f"/hooks/{connector.token}", data=nested_object(200), content_type="application/json"
    )
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [201, 910, 3000])
def test_deeper_nesting_is_a_clear_400(client, connector, depth):
    """910 parses in Python but would overflow the stack when stored: refused up front."""
    response = client.post(
        f"/hooks/{connector.token}", data=nested_object(depth), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "nested_too_deeply"
    assert "over 200 levels" in response.json()["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forwarded, stored",
    [
        ("203.0.113.9, 10.0.0.1", "10.0.0.1"),
        ("10.0.0.1, not-an-ip", "127.0.0.1"),
        ("", "127.0.0.1"),
    ],
)
def test_a_forged_forwarded_for_is_not_stored(client, connector, settings, forwarded, stored):
    settings.PICKY_TRUSTED_PROXY_HOPS = 1
    response = client.post(
        f"/hooks/{connector.token}",
        data="{}",
        content_type="application/json",
        headers={"X-Forwarded-For": forwarded},
    )
    assert response.status_code == 200
    assert Event.objects.get().source_ip == stored


@settings(max_examples=300, deadline=None)
@given(
    value=json_values
    | st.recursive(st.just(1), lambda inner: st.lists(inner, max_size=1), max_leaves=260)
    | st.text(alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "a", "\\", "u"]), max_size=8)
)
def test_the_quick_look_at_a_json_body_never_passes_what_the_full_check_refuses(value):
    """`json_surely_storable` reads the bytes instead of walking the payload; whenever
    it says yes, the walk agrees."""
    body = json.dumps(value).encode()
    payload = value if isinstance(value, dict) else {"data": value}
    if json_surely_storable(body):
        check_storable(payload)


@pytest.mark.parametrize("depth, surely", [(198, True), (199, False), (400, False)])
def test_the_quick_look_leaves_deep_bodies_to_the_full_check(depth, surely):
    body = ("[" * depth + "]" * depth).encode()
    assert json_surely_storable(body) is surely
