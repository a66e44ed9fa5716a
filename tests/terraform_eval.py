"""A Terraform module evaluated in Python, as `terraform plan` would see it for given inputs.

There is no terraform binary here, so the tests read the module's own expressions (parsed by
python-hcl2's grammar) and evaluate the part of the language the module uses: literals,
templates, references, conditionals, operators, `for` expressions and a few functions. What
AWS only knows after `apply` (ARNs, regions) is made up from the resources' own arguments, the
way AWS names them. `aws_iam_policy_document` data sources render to the JSON the AWS provider
would produce, so a test can evaluate the policies a given configuration produces.

Anything outside that subset raises `Unsupported`, so a module change the evaluator cannot
follow fails the tests instead of passing unexamined.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree


class Unsupported(Exception):
    """The module uses something this evaluator does not model."""


class TerraformError(Exception):
    """What Terraform itself would report as an error (a failing function, a bad index)."""


Node = Tree[Token]


def _trees(node: Node) -> list[Node]:
    """A node's sub-trees, without punctuation and newlines or comments."""
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _name(node: Node | Token) -> str:
    """An identifier, keyword or quoted label."""
    if isinstance(node, Token):
        return str(node)
    if node.data in ("identifier", "keyword", "literal_value"):
        return str(node.children[0])
    if node.data == "string":
        return "".join(str(part.children[0]) for part in _trees(node))
    if node.data in ("expr_term", "object_elem_key"):
        (inner,) = _trees(node)
        return _name(inner)
    raise Unsupported(f"not a name: {node.data}")


@dataclass
class Body:
    """A block's body: its arguments (unevaluated) and its nested blocks."""

    attributes: dict[str, Node] = field(default_factory=dict)
    blocks: list[tuple[str, list[str], Body]] = field(default_factory=list)

    @classmethod
    def of(cls, body: Node) -> Body:
        result = cls()
        for child in _trees(body):
            if child.data == "attribute":
                name, expression = _trees(child)
                result.attributes[_name(name)] = expression
            elif child.data == "block":
                *labels, inner = _trees(child)
                names = [_name(label) for label in labels]
                result.blocks.append((names[0], names[1:], cls.of(inner)))
        return result

    def nested(self, kind: str) -> list[Body]:
        return [body for type_, _, body in self.blocks if type_ == kind]


@dataclass(frozen=True)
class Module:
    """A module's blocks, unevaluated."""

    variables: dict[str, Body]
    locals: dict[str, Node]
    resources: dict[tuple[str, str], Body]
    data: dict[tuple[str, str], Body]
    outputs: dict[str, Body]

    def blocks(self, kind: str) -> dict[tuple[str, str], Body]:
        return self.resources if kind == "resource" else self.data


@cache
def read_module(directory: Path) -> Module:
    """Parsed once per session, so callers must not change what it returns."""
    module = Module({}, {}, {}, {}, {})
    for path in sorted(directory.glob("*.tf")):
        for type_, labels, body in Body.of(_trees(hcl2.parses_to_tree(path.read_text()))[0]).blocks:
            if type_ == "locals":
                module.locals.update(body.attributes)
            elif type_ == "variable":
                module.variables[labels[0]] = body
            elif type_ == "output":
                module.outputs[labels[0]] = body
            elif type_ in ("resource", "data"):
                module.blocks(type_)[(labels[0], labels[1])] = body
    return module


def _unescape(text: str) -> str:
    """HCL string escapes, and `$${` / `%%{` for a literal `${` / `%{`."""
    if text.startswith(("$${", "%%{")):
        return text[1:]
    escapes = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped in escapes:
            return escapes[escaped]
        return chr(int(escaped[1:], 16))

    return re.sub(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", replace, text)


def _python_pattern(pattern: str) -> str:
    """An RE2 pattern (Terraform's regex) as a Python one: the module's patterns are common to
    both; anything RE2-specific is refused."""
    if re.search(r"\\[pPQEz]|\(\?P?<|\[\[:", pattern):
        raise Unsupported(f"RE2-only syntax in {pattern!r}")
    return pattern


def _regex(pattern: str, text: str) -> Any:
    if not isinstance(text, str):
        raise TerraformError(f"regex: not a string: {text!r}")
    match = re.search(_python_pattern(pattern), text)
    if match is None:
        raise TerraformError(f"regex: {pattern!r} does not match {text!r}")
    if match.re.groups == 0:
        return match.group(0)
    return list(match.groups())


def _replace(text: str, search: str, replacement: str) -> str:
    """Terraform's replace: a `/.../` search string is a regular expression."""
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        python_replacement = re.sub(r"\$\{?(\d+)\}?", r"\\\1", replacement)
        return re.sub(_python_pattern(search[1:-1]), python_replacement, text)
    return text.replace(search, replacement)


def _one(values: list[Any]) -> Any:
    if len(values) > 1:
        raise TerraformError("one: more than one element")
    return values[0] if values else None


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise TerraformError("coalesce: no non-null, non-empty argument")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "alltrue": lambda values: all(values),
    "anytrue": lambda values: any(values),
    "coalesce": _coalesce,
    "compact": lambda values: [v for v in values if v not in (None, "")],
    "concat": lambda *lists: [v for values in lists for v in values],
    "contains": lambda values, value: value in values,
    "distinct": lambda values: list(dict.fromkeys(values)),
    "endswith": lambda text, suffix: text.endswith(suffix),
    "jsonencode": lambda value: json.dumps(value, separators=(",", ":")),
    "length": len,
    "lower": lambda text: text.lower(),
    "one": _one,
    "regex": _regex,
    "replace": _replace,
    "startswith": lambda text, prefix: text.startswith(prefix),
    "trim": lambda text, chars: text.strip(chars),
    "trimprefix": lambda text, prefix: text.removeprefix(prefix),
    "trimsuffix": lambda text, suffix: text.removesuffix(suffix),
}


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if value is None:
        raise TerraformError("template: interpolating null")
    raise TerraformError(f"template: cannot interpolate {type(value).__name__}")


def _equal(left: Any, right: Any) -> bool:
    """Terraform's ==: values of different types are never equal (1 != true, "1" != 1)."""
    return type(left) is type(right) and left == right


def _binary(operator: str, left: Any, right: Any) -> Any:
    if operator in ("&&", "||"):
        if not isinstance(left, bool) or not isinstance(right, bool):
            raise TerraformError(f"{operator} needs booleans, got {left!r} and {right!r}")
        return (left and right) if operator == "&&" else (left or right)
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "==": lambda a, b: _equal(a, b),
        "!=": lambda a, b: not _equal(a, b),
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
    }
    if operator not in operations:
        raise Unsupported(f"operator {operator}")
    if operator not in ("==", "!=") and (left is None or right is None):
        raise TerraformError(f"{operator} with null")
    return operations[operator](left, right)


class Lazy(Mapping[str, Any]):
    """A namespace whose members are computed when referenced (locals, resources, data)."""

    def __init__(self, get: Callable[[str], Any], names: Callable[[], list[str]]) -> None:
        self._get = get
        self._names = names

    def __getitem__(self, name: str) -> Any:
        if name not in self._names():
            raise TerraformError(f"reference to undeclared {name!r}")
        return self._get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


@dataclass
class Plan:
    """The module with these input variables, in an account, region and partition."""

    directory: Path
    variables: dict[str, Any]
    account_id: str = "123456789012"
    region: str = "eu-west-1"
    partition: str = "aws"
    _locals: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def module(self) -> Module:
        return read_module(self.directory)

    @property
    def dns_suffix(self) -> str:
        return {
            "aws": "amazonaws.com",
            "aws-cn": "amazonaws.com.cn",
            "aws-us-gov": "amazonaws.com",
        }[self.partition]

    # Inputs

    @cached_property
    def var(self) -> dict[str, Any]:
        """Every variable: the given value (converted to its type) or its default."""
        values = {}
        unknown = set(self.variables) - set(self.module.variables)
        if unknown:
            raise TerraformError(f"undeclared variables: {sorted(unknown)}")
        for name, body in self.module.variables.items():
            if name in self.variables:
                values[name] = self._convert(self.variables[name], body.attributes.get("type"))
            elif "default" in body.attributes:
                values[name] = _Evaluator({}).eval(body.attributes["default"])  # a constant
            else:
                raise TerraformError(f"variable {name} is required")
        return values

    def _convert(self, value: Any, type_: Node | None) -> Any:
        """list(object({...})) values get their optional attributes as null, as in Terraform;
        a missing required attribute or an unexpected one is an error."""
        if type_ is None or value is None:
            return value
        attributes = _object_attributes(type_)
        if attributes is None:
            return value
        converted = []
        for item in value:
            extra = set(item) - set(attributes)
            missing = {a for a, optional in attributes.items() if not optional} - set(item)
            if extra or missing:
                raise TerraformError(f"attributes: unexpected {extra}, missing {missing}")
            converted.append({a: item.get(a) for a in attributes})
        return converted

    def validation_errors(self) -> list[str]:
        """The error messages of the variables' validation rules that fail."""
        errors = []
        for body in self.module.variables.values():
            for rule in body.nested("validation"):
                if self.evaluate(rule.attributes["condition"], {}) is not True:
                    errors.append(self.evaluate(rule.attributes["error_message"], {}))
        return errors

    # Module values

    def local(self, name: str) -> Any:
        if name not in self._locals:
            self._locals[name] = self.evaluate(self.module.locals[name], {})
        return self._locals[name]

    def output(self, name: str) -> Any:
        return self.evaluate(self.module.outputs[name].attributes["value"], {})

    def count(self, kind: str, type_: str, name: str) -> int | None:
        """A block's count (None without one)."""
        body = self.module.blocks(kind)[(type_, name)]
        if "count" not in body.attributes:
            return None
        count = self.evaluate(body.attributes["count"], {})
        if not isinstance(count, int) or isinstance(count, bool):
            raise TerraformError(f"count of {type_}.{name} is not a number: {count!r}")
        return count

    def argument(self, kind: str, type_: str, name: str, argument: str, index: int | None) -> Any:
        body = self.module.blocks(kind)[(type_, name)]
        scope = {"count": {"index": index}} if index is not None else {}
        return self.evaluate(body.attributes[argument], scope)

    def policy(self, name: str, index: int | None = None) -> dict[str, Any]:
        """The JSON document an `aws_iam_policy_document` data source renders, as a dict."""
        rendered: dict[str, Any] = json.loads(
            self.data_source("aws_iam_policy_document", name, index)["json"]
        )
        return rendered

    # References

    def _scope(self) -> dict[str, Any]:
        module = self.module
        scope: dict[str, Any] = {
            "var": self.var,
            "local": Lazy(self.local, lambda: list(module.locals)),
            "path": {"module": str(self.directory), "root": str(self.directory)},
            "data": Lazy(
                lambda type_: self._namespace("data", type_),
                lambda: sorted({type_ for type_, _ in module.data}),
            ),
        }
        for type_ in sorted({type_ for type_, _ in module.resources}):
            scope[type_] = self._namespace("resource", type_)
        return scope

    def _namespace(self, kind: str, type_: str) -> Lazy:
        """`TYPE.NAME` (resources) or `data.TYPE.NAME`."""

        def get(name: str) -> Any:
            return self._counted(kind, type_, name)

        def names() -> list[str]:
            return [n for t, n in self.module.blocks(kind) if t == type_]

        return Lazy(get, names)

    def _counted(self, kind: str, type_: str, name: str) -> Any:
        count = self.count(kind, type_, name)
        get = self.data_source if kind == "data" else self._resource
        if count is None:
            return get(type_, name, None)
        return [get(type_, name, i) for i in range(count)]

    def _resource(self, type_: str, name: str, index: int | None) -> Mapping[str, Any]:
        """A resource's attributes: its arguments, and what AWS would compute."""

        def arg(argument: str) -> Any:
            return self.argument("resource", type_, name, argument, index)

        account, partition, region = self.account_id, self.partition, self.region
        computed: dict[str, Callable[[], Any]] = {
            "aws_s3_bucket": lambda: {
                "arn": f"arn:{partition}:s3:::{arg('bucket')}",
                "id": arg("bucket"),
                "region": region,
            },
            "aws_dynamodb_table": lambda: {
                "arn": f"arn:{partition}:dynamodb:{region}:{account}:table/{arg('name')}",
                "name": arg("name"),
            },
            "aws_iam_openid_connect_provider": lambda: {
                "arn": f"arn:{partition}:iam::{account}:oidc-provider/"
                + arg("url").removeprefix("https://"),
            },
            "aws_iam_role": lambda: {
                "arn": f"arn:{partition}:iam::{account}:role/{arg('name')}",
                "name": arg("name"),
                "id": arg("name"),
            },
            "aws_iam_policy": lambda: {
                "arn": f"arn:{partition}:iam::{account}:policy/{arg('name')}",
                "name": arg("name"),
            },
            "aws_cloudfront_distribution": lambda: {
                "arn": f"arn:{partition}:cloudfront::{account}:distribution/EDFDVBD6EXAMPLE",
                "id": "EDFDVBD6EXAMPLE",
                "domain_name": "d111111abcdef8.cloudfront.net",
            },
        }
        if type_ not in computed:
            raise Unsupported(f"attributes of {type_}")
        attributes: Mapping[str, Any] = computed[type_]()
        return attributes

    def data_source(self, type_: str, name: str, index: int | None) -> Mapping[str, Any]:
        if type_ == "aws_partition":
            return {"partition": self.partition, "dns_suffix": self.dns_suffix}
        if type_ == "aws_caller_identity":
            return {"account_id": self.account_id}
        if type_ == "aws_iam_policy_document":
            body = self.module.data[(type_, name)]
            scope = {"count": {"index": index}} if index is not None else {}
            return {"json": json.dumps(self._render_policy(body, scope))}
        raise Unsupported(f"data source {type_}")

    # aws_iam_policy_document

    def _render_policy(self, body: Body, scope: dict[str, Any]) -> dict[str, Any]:
        statements: list[dict[str, Any]] = []
        for source in self._attribute(body, "source_policy_documents", scope) or []:
            statements += json.loads(source)["Statement"]
        for statement, statement_scope in self._blocks(body, "statement", scope):
            statements.append(self._render_statement(statement, statement_scope))
        sids = [s["Sid"] for s in statements if "Sid" in s]
        if len(sids) != len(set(sids)):
            raise TerraformError(f"duplicate statement ids: {sids}")
        return {"Version": "2012-10-17", "Statement": statements}

    def _render_statement(self, body: Body, scope: dict[str, Any]) -> dict[str, Any]:
        keys = {
            "sid": "Sid",
            "effect": "Effect",
            "actions": "Action",
            "not_actions": "NotAction",
            "resources": "Resource",
            "not_resources": "NotResource",
        }
        unknown = set(body.attributes) - set(keys)
        if unknown:
            raise Unsupported(f"statement arguments {unknown}")
        statement: dict[str, Any] = {"Effect": "Allow"}
        for argument, key in keys.items():
            value = self._attribute(body, argument, scope)
            if value is not None:
                statement[key] = value
        for principal, principal_scope in self._blocks(body, "principals", scope):
            type_ = self._attribute(principal, "type", principal_scope)
            identifiers = self._attribute(principal, "identifiers", principal_scope)
            statement.setdefault("Principal", {}).setdefault(type_, []).extend(identifiers)
        for condition, condition_scope in self._blocks(body, "condition", scope):
            test = self._attribute(condition, "test", condition_scope)
            variable = self._attribute(condition, "variable", condition_scope)
            values = self._attribute(condition, "values", condition_scope)
            if not values or any(not isinstance(v, str) for v in values):
                raise TerraformError(f"condition {test} {variable}: values {values!r}")
            tests = statement.setdefault("Condition", {}).setdefault(test, {})
            tests.setdefault(variable, []).extend(values)
        return statement

    def _attribute(self, body: Body, name: str, scope: dict[str, Any]) -> Any:
        return self.evaluate(body.attributes[name], scope) if name in body.attributes else None

    def _blocks(
        self, body: Body, kind: str, scope: dict[str, Any]
    ) -> Iterator[tuple[Body, dict[str, Any]]]:
        """Nested blocks of a kind, static and dynamic, with the scope to evaluate each in."""
        for type_, labels, nested in body.blocks:
            if type_ == kind:
                yield nested, scope
            elif type_ == "dynamic" and labels == [kind]:
                iterator = kind
                if "iterator" in nested.attributes:
                    iterator = _name(nested.attributes["iterator"])
                items = self.evaluate(nested.attributes["for_each"], scope)
                pairs = items.items() if isinstance(items, dict) else enumerate(items)
                (content,) = nested.nested("content")
                for key, value in pairs:
                    yield content, {**scope, iterator: {"key": key, "value": value}}

    # Expressions

    def evaluate(self, node: Node, scope: dict[str, Any]) -> Any:
        return _Evaluator({**self._scope(), **scope}).eval(node)


def _object_attributes(type_: Node) -> dict[str, bool] | None:
    """For a list(object({...})) type: attribute name -> whether it is optional."""
    node = type_
    while node.data == "expr_term":
        (node,) = _trees(node)
    if node.data != "function_call" or _name(_trees(node)[0]) != "list":
        return None
    (element,) = _trees(_trees(node)[1])
    while element.data == "expr_term":
        (element,) = _trees(element)
    if element.data != "function_call" or _name(_trees(element)[0]) != "object":
        return None
    (fields,) = _trees(_trees(element)[1])
    (fields,) = _trees(fields)  # expr_term -> object
    attributes = {}
    for elem in _trees(fields):
        key, value = _trees(elem)
        (value_node,) = _trees(value)
        optional = value_node.data == "function_call" and _name(_trees(value_node)[0]) == "optional"
        attributes[_name(key)] = optional
    return attributes


class _Evaluator:
    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    def eval(self, node: Node) -> Any:
        method = getattr(self, f"_{node.data}", None)
        if method is None:
            raise Unsupported(f"expression {node.data}")
        return method(node)

    def _expr_term(self, node: Node) -> Any:
        (inner,) = _trees(node)
        return self.eval(inner)

    def _int_lit(self, node: Node) -> int:
        return int(str(node.children[0]))

    def _literal_value(self, node: Node) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _string(self, node: Node) -> str:
        parts = []
        for part in _trees(node):
            (content,) = part.children
            if isinstance(content, Token):
                parts.append(_unescape(str(content)))
            elif content.data == "interpolation":
                (expression,) = _trees(content)
                parts.append(_to_string(self.eval(expression)))
            else:
                raise Unsupported(f"template directive {content.data}")
        return "".join(parts)

    def _tuple(self, node: Node) -> list[Any]:
        return [self.eval(child) for child in _trees(node)]

    def _object(self, node: Node) -> dict[str, Any]:
        result = {}
        for elem in _trees(node):
            key_node, value = _trees(elem)
            (key_expression,) = _trees(key_node)
            key_inner = _trees(key_expression)[0] if key_expression.data == "expr_term" else None
            if key_expression.data == "keyword":
                key = _name(key_expression)
            elif key_inner is not None and key_inner.data == "identifier":
                key = _name(key_inner)  # a bare name is the key itself
            else:
                key = _to_string(self.eval(key_expression))
            result[key] = self.eval(value)
        return result

    def _identifier(self, node: Node) -> Any:
        name = _name(node)
        if name not in self.scope:
            raise Unsupported(f"reference {name}")
        return self.scope[name]

    def _get_attr_expr_term(self, node: Node) -> Any:
        target, attribute = _trees(node)
        return _get(self.eval(target), _name(_trees(attribute)[0]))

    def _index_expr_term(self, node: Node) -> Any:
        target, index = _trees(node)
        value = self.eval(target)
        if index.data == "short_index":
            key: Any = int(str(index.children[1]))
        else:
            (key_node,) = _trees(index)
            key = self.eval(key_node)
        try:
            return value[key]
        except (IndexError, KeyError, TypeError) as e:
            raise TerraformError(f"invalid index {key!r}") from e

    def _full_splat_expr_term(self, node: Node) -> Any:
        target, splat = _trees(node)
        value = self.eval(target)
        items = value if isinstance(value, list) else ([] if value is None else [value])
        results = []
        for item in items:
            for step in _trees(splat):
                if step.data != "get_attr":
                    raise Unsupported(f"splat step {step.data}")
                item = _get(item, _name(_trees(step)[0]))
            results.append(item)
        return results

    def _conditional(self, node: Node) -> Any:
        condition, if_true, if_false = _trees(node)
        value = self.eval(condition)
        if not isinstance(value, bool):
            raise TerraformError(f"condition is not a boolean: {value!r}")
        return self.eval(if_true if value else if_false)

    def _binary_op(self, node: Node) -> Any:
        left, term = _trees(node)
        operator_node, right = _trees(term)
        return _binary(str(operator_node.children[0]), self.eval(left), self.eval(right))

    def _unary_op(self, node: Node) -> Any:
        operator, operand = node.children
        assert isinstance(operand, Tree)
        value = self.eval(operand)
        if str(operator) == "!":
            if not isinstance(value, bool):
                raise TerraformError(f"! needs a boolean, got {value!r}")
            return not value
        return -value

    def _function_call(self, node: Node) -> Any:
        name_node, *rest = _trees(node)
        name = _name(name_node)
        arguments = _trees(rest[0]) if rest else []
        if name in ("can", "try"):
            for argument in arguments:
                try:
                    value = self.eval(argument)
                except TerraformError:
                    if name == "can":
                        return False
                    continue
                return True if name == "can" else value
            if name == "can":
                raise TerraformError("can: no argument")
            raise TerraformError("try: every argument failed")
        if name not in FUNCTIONS:
            raise Unsupported(f"function {name}")
        values = [self.eval(argument) for argument in arguments]
        try:
            return FUNCTIONS[name](*values)
        except (TypeError, AttributeError) as e:
            raise TerraformError(f"{name}{tuple(values)}: {e}") from e

    def _for_items(self, intro: Node) -> Iterator[dict[str, Any]]:
        *names, collection = _trees(intro)
        values = self.eval(collection)
        pairs = values.items() if isinstance(values, dict) else enumerate(values)
        for key, value in pairs:
            if len(names) == 1:
                yield {_name(names[0]): value}
            else:
                yield {_name(names[0]): key, _name(names[1]): value}

    def _for_tuple_expr(self, node: Node) -> list[Any]:
        intro, expression, *condition = _trees(node)
        results = []
        for bound in self._for_items(intro):
            inner = _Evaluator({**self.scope, **bound})
            if condition and inner.eval(_trees(condition[0])[0]) is not True:
                continue
            results.append(inner.eval(expression))
        return results

    def _for_object_expr(self, node: Node) -> dict[str, Any]:
        intro, key, value, *condition = _trees(node)
        results = {}
        for bound in self._for_items(intro):
            inner = _Evaluator({**self.scope, **bound})
            if condition and inner.eval(_trees(condition[0])[0]) is not True:
                continue
            results[_to_string(inner.eval(key))] = inner.eval(value)
        return results


def _get(value: Any, attribute: str) -> Any:
    if isinstance(value, Mapping):
        if attribute not in value:
            raise TerraformError(f"unsupported attribute {attribute!r}")
        return value[attribute]
    if isinstance(value, list):
        raise TerraformError(f"attribute {attribute!r} of a list (use an index or [*])")
    raise TerraformError(f"attribute {attribute!r} of {value!r}")
