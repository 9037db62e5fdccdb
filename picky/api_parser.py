"""The REST API's parser: JSON read by the JSON sanitiser (REST_FRAMEWORK's only parser).
Its own module, as DRF loads it while importing its views."""

from rest_framework import exceptions
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from .json_input import JSONInputError, parse_json, unstorable_character


class JSONInputParser(BaseParser):
    """What the database cannot store is a 400 saying where, before any view runs; a
    problem inside a field is reported under that field."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return parse_json(stream.read())
        except JSONInputError as exc:
            field = exc.location[0] if exc.location else None
            if isinstance(field, str) and unstorable_character(field) is None:
                raise exceptions.ValidationError({field: [exc.message]}) from exc
            raise exceptions.ParseError(exc.message) from exc
