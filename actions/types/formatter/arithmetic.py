"""The math action: an arithmetic expression over numbers and templates, read by Python's
own parser (`ast`) and evaluated by walking a whitelist of its nodes (never `eval`), in
Decimal arithmetic.

After templating, `{{ event.price }} * {{ event.qty }}` reads `12.50 * 3`; a template
inside quotes (`"{{ event.price }}"`) is a text read as a number, money included
("$1,234.50"); a list (`sum({{ event.items[*].price }})`) is a list of numbers.
"""

import ast
import math
import operator
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, DecimalException, Overflow
from decimal import localcontext as local_decimal_context

from django import forms

from picky.templating import HOLE, empty_holes

from ...base import ActionConfigForm, ActionError, ActionType, Result
from ...registry import register
from .numbers import CONTEXT, NumberError, as_json_number, as_text, read_number

MAX_EXPRESSION_CHARS = 5_000
MAX_NODES = 1_000
# `**` takes exponents up to this size: 10 ** 10000 has 10,001 digits.
MAX_EXPONENT = 10_000
MAX_DECIMALS = 20
# A result nearer 0 than 10 ** -300 is refused: written out, it would be 300 zeros.
MIN_ADJUSTED_EXPONENT = -300

BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv,
}
SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
SYMBOLS[ast.FloorDiv], SYMBOLS[ast.Pow] = "//", "**"
FUNCTIONS = ("round", "floor", "ceil", "abs", "min", "max", "sum")
# Names a JSON list rendered into the expression may hold.
CONSTANTS = {"null": None, "None": None, "true": True, "false": False}


class MathError(ValueError):
    """An expression that cannot be computed; the message is for the business user."""


def evaluate(expression):
    """The value (a Decimal) of `expression`, or MathError saying what is wrong."""
    text = str(expression or "").strip()
    if not text:
        raise MathError("The expression is empty.")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise MathError(f"The expression is over {MAX_EXPRESSION_CHARS} characters long.")
    tree = parse(text)
    with local_decimal_context(CONTEXT):
        try:
            value = Evaluator(text).value(tree.body)
        except DecimalException as exc:
            raise MathError(_decimal_problem(exc)) from None
    if isinstance(value, list):
        raise MathError("The expression gives a list, not a number; use sum, min or max.")
    return value


def parse(text):
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        if "Exceeds the limit" in str(exc.msg):  # an integer literal of over 4,300 digits
            raise MathError("The expression holds a number too long to read.") from None
        where = f" at character {exc.offset}" if exc.offset else ""
        raise MathError(f"The expression {_shown(text)} cannot be read{where}.") from None
    except ValueError:  # a NUL character
        raise MathError(f"The expression {_shown(text)} cannot be read.") from None
    except (RecursionError, MemoryError):
        raise MathError("The expression is nested too deeply.") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise MathError(f"The expression has over {MAX_NODES} parts.")
    return tree


def syntax_problem(text):
    """Why `text` (an expression, its templates replaced by numbers) cannot be read; ""."""
    try:
        tree = parse(text)
        Evaluator(text).check(tree.body)
    except MathError as exc:
        return str(exc)
    return ""


class Evaluator:
    def __init__(self, text):
        self.text = text

    def check(self, node):
        """Refuse nodes outside the whitelist without computing anything (at save)."""
        if isinstance(node, ast.Call):
            self.function_name(node)
        elif not allowed(node):
            self.refuse(node)
        children = node.args if isinstance(node, ast.Call) else ast.iter_child_nodes(node)
        for child in children:
            if not isinstance(child, (ast.operator, ast.unaryop, ast.expr_context)):
                self.check(child)

    def value(self, node):
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(item) for item in node.elts]
        if isinstance(node, ast.Name) and node.id in CONSTANTS:
            return read_value(CONSTANTS[node.id], f"The value {node.id}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            operand = self.number(node.operand)
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp) and type(node.op) in SYMBOLS:
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        self.refuse(node)

    def constant(self, node):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float, str)):
            self.refuse(node)
        if isinstance(node.value, str):
            return read_value(node.value, f"The value {node.value!r}")
        # The literal as written: 0.1 stays 0.1, and a long number keeps its digits.
        written = ast.get_source_segment(self.text, node) or repr(node.value)
        return Decimal(written.replace("_", ""))

    def number(self, node):
        value = self.value(node)
        if isinstance(value, list):
            raise MathError(
                f"{_shown(self.segment(node))} is a list; use sum, min or max to make a number "
                "of it."
            )
        return value

    def binary(self, node):
        left, right = self.number(node.left), self.number(node.right)
        symbol = SYMBOLS[type(node.op)]
        if symbol in ("/", "//", "%") and right == 0:
            raise MathError(
                f"Division by zero: {_shown(self.segment(node.right))} is 0 in "
                f"{_shown(self.segment(node))}."
            )
        if symbol == "**":
            if abs(right) > MAX_EXPONENT:
                raise MathError(f"The exponent {as_text(right)} is over {MAX_EXPONENT}.")
            if left == 0 and right < 0:
                raise MathError(f"Division by zero: 0 ** {as_text(right)}.")
            return left**right
        return BINARY[type(node.op)](left, right)

    def call(self, node):
        name = self.function_name(node)
        args = [self.value(arg) for arg in node.args]
        if name in ("min", "max", "sum"):
            numbers = args[0] if len(args) == 1 and isinstance(args[0], list) else args
            numbers = [self.flat_number(item, name) for item in numbers]
            if name == "sum":
                return sum(numbers, Decimal(0))
            if not numbers:
                raise MathError(f"{name} was given an empty list.")
            return min(numbers) if name == "min" else max(numbers)
        if name == "round":
            if not 1 <= len(args) <= 2:
                raise MathError("round takes a number and, optionally, a count of decimals.")
            digits = self.flat_number(args[1], name) if len(args) == 2 else Decimal(0)
            return round_to(self.flat_number(args[0], name), digits)
        if len(args) != 1:
            raise MathError(f"{name} takes one number.")
        number = self.flat_number(args[0], name)
        if name == "abs":
            return abs(number)
        return number.to_integral_value(ROUND_FLOOR if name == "floor" else ROUND_CEILING)

    def flat_number(self, value, name):
        if isinstance(value, list):
            raise MathError(f"{name} was given a list inside a list.")
        return value

    def function_name(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            called = self.segment(node.func)
            raise MathError(
                f"{_shown(called)} is not a function math knows; it knows {', '.join(FUNCTIONS)}."
            )
        return node.func.id

    def refuse(self, node):
        if isinstance(node, ast.Name):
            raise MathError(f"{_shown(node.id)} is not a number.")
        raise MathError(
            f"{_shown(self.segment(node))} is not arithmetic: use numbers, + - * / % **, "
            f"parentheses and {', '.join(FUNCTIONS)}."
        )

    def segment(self, node):
        return ast.get_source_segment(self.text, node) or ""


def allowed(node):
    """Whether `node` is one of the whitelist's (calls are checked by name)."""
    if isinstance(node, ast.BinOp):
        return type(node.op) in SYMBOLS
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.UAdd, ast.USub))
    if isinstance(node, ast.Name):
        return node.id in CONSTANTS
    return isinstance(node, (ast.Constant, ast.List, ast.Tuple))


def read_value(value, what):
    try:
        return read_number(value, what)
    except NumberError as exc:
        raise MathError(str(exc)) from None


def round_to(number, digits):
    """`number` rounded half up (2.5 is 3, as on a bill) to `digits` decimals."""
    if digits != digits.to_integral_value() or not -MAX_DECIMALS <= digits <= MAX_DECIMALS:
        raise MathError(f"round takes a whole count of decimals up to {MAX_DECIMALS}.")
    return number.quantize(Decimal(1).scaleb(-int(digits)), rounding=ROUND_HALF_UP)


def _decimal_problem(exc):
    if isinstance(exc, Overflow):
        return "The result is too large."
    return "The result cannot be computed (too large, too small or undefined)."


def _shown(text):
    text = str(text)
    return repr(text if len(text) <= 60 else text[:60] + "…")


class MathForm(ActionConfigForm):
    expression = forms.CharField(
        max_length=MAX_EXPRESSION_CHARS,
        help_text=(
            "Numbers and templates with + - * / % ** and parentheses, round(x, 2), floor, ceil, "
            'abs, min, max, sum. Example: {{ event.price }} * {{ event.qty }} - 0.5; "12.50" '
            "(a text) is read as a number."
        ),
    )
    decimals = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_DECIMALS,
        help_text="Round the result to this many decimals (half up); empty: as computed.",
    )

    def clean_expression(self):
        expression = self.cleaned_data["expression"]
        # Templates are known at run time: checked here with a number in their place.
        problem = syntax_problem(HOLE.sub("1", expression))
        if problem:
            raise forms.ValidationError(problem)
        return expression


@register("math")
class Math(ActionType):
    label = "Math Calculation"
    category = "Formatter"
    description = (
        "Compute an arithmetic expression in decimals (0.1 + 0.2 is 0.3); the result is "
        "`result` (a number) and `text` under Save as."
    )
    form_class = MathForm
    literal_fields = ("decimals",)
    shows_preview = True

    def render(self, ctx, config):
        # The expression as text, whatever its templates hold (a list renders as JSON).
        expression = config.get("expression", "")
        empty = empty_holes(expression, ctx.data)
        if empty:
            raise ActionError(f"{', '.join(empty)} is empty, so the expression has no value.")
        return {**config, "expression": ctx.render(expression)}

    def run(self, ctx, inputs):
        try:
            value = evaluate(inputs.get("expression"))
            if inputs.get("decimals") is not None:
                value = round_to(value, Decimal(inputs["decimals"]))
        except MathError as exc:
            raise ActionError(str(exc)) from None
        except DecimalException:
            raise ActionError("The result is too large to round.") from None
        if math.isinf(float(value)):
            raise ActionError("The result is too large to save as a number.")
        if value and value.adjusted() < MIN_ADJUSTED_EXPONENT:
            raise ActionError("The result is too small to save as a number.")
        return Result(outputs={"result": as_json_number(value), "text": as_text(value)})
