"""The one outbound client refuses any URL that is not an absolute http(s) URL, clearly."""

import pytest

from picky import outbound


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "The URL is empty."),
        ("   ", "The URL is empty."),
        ("/orders/7", "The URL '/orders/7' is not an absolute http(s) URL."),
        ("orders.example.com/hook", "The URL 'orders.example.com/hook' is not an absolute"),
        ("ftp://files.example.com/drop", "The URL 'ftp://files.example.com/drop' is not an http"),
        ("javascript:alert(1)", "The URL 'javascript:alert(1)' is not an http(s) URL."),
        ("https:///x", "The URL 'https:///x' has no host."),
        ("http://[fe80::1/x", "The URL 'http://[fe80::1/x' is not a valid URL: Invalid IPv6"),
        ("http://a.io:99999/", "The URL 'http://a.io:99999/' is not a valid URL: Port out of"),
        ("http://.example.com/x", "The URL 'http://.example.com/x' is not a valid URL."),
    ],
)
def test_send_refuses_what_is_not_an_absolute_http_url(url, message):
    with pytest.raises(outbound.InvalidURL) as refused:
        outbound.send("GET", url)
    assert refused.value.message.startswith(message)
    assert not refused.value.retryable


def test_an_unparsable_url_is_shown_without_credentials_or_query():
    with pytest.raises(outbound.InvalidURL) as refused:
        outbound.send("GET", "https://user:pa55@[fe80::1/x?api_key=s3cret")
    assert "pa55" not in refused.value.message and "s3cret" not in refused.value.message
    assert "'https://[fe80::1/x'" in refused.value.message
