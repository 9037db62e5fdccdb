"""The REST API's parser: JSON read by the JSON sanitiser (REST_FRAMEWORK's only parser).
Its own module, as DRF loads it while importing its views."""

from rest_framework import exceptions
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from .json_input import JSONInputError, parse_json, unstorable_character
from .request_body import BodyError, read_body


class BodyRefused(exceptions.APIException):
    """A body the one body reader refused (too large, short, stalled), with its status."""

    def __init__(self, error):
        super().__init__(error.message, error.code)
        self.status_code = error.status


class JSONInputParser(BaseParser):
    """What the database cannot store is a 400 saying where, before any view runs; a
    problem inside a field is reported under that field."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            body = read_body(parser_context["request"]._request)
        except BodyError as exc:
            raise BodyRefused(exc) from exc
        try:
            return parse_json(body)
        except JSONInputError as exc:
            field = exc.location[0] if exc.location else None
            if isinstance(field, str) and unstorable_character(field) is None:
                raise exceptions.ValidationError({field: [exc.message]}) from exc
            raise exceptions.ParseError(exc.message) from exc
