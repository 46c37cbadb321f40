"""Azure Cosmos DB NoSQL queries, parsed and translated to SQLite's JSON SQL.

Cosmos DB for NoSQL stores JSON documents and queries them with a SQL dialect whose FROM clause
walks *one document* (`FROM c`), whose JOIN unrolls an array *inside* that document
(`JOIN t IN c.tags`), and whose paths reach into nested fields (`c.authors[0].name`). SQLite's
JSON functions can express the same thing over a table of JSON texts:

    Cosmos                                   SQLite
    FROM c                                   FROM items AS c           (one row per document)
    c.year   (filtering, sorting)            c.body ->> '$.year'       (SQL value)
    c.year   (projecting)                    c.body -> '$.year'        (JSON value)
    JOIN t IN c.tags                         JOIN json_each(c.body, '$.tags') AS t
    ARRAY_CONTAINS(c.tags, 'gpu')            EXISTS (SELECT 1 FROM json_each(c.body, '$.tags') WHERE value = 'gpu')
    TOP 5                                    LIMIT 5
    @param                                   :param

This module is a small recursive-descent parser for that subset (SELECT [DISTINCT] [TOP n]
[VALUE] ..., FROM, JOIN ... IN, WHERE, GROUP BY, ORDER BY, OFFSET ... LIMIT, parameters, the
common system functions and aggregates). Syntax errors carry the line, column and a caret, as
a database would. Everything it does not support is refused with a message naming it. At most
`MAX_JOINS` JOINs are accepted: each one multiplies the rows the database walks.

Reference: https://learn.microsoft.com/azure/cosmos-db/nosql/query/ (the Cosmos query language),
https://sqlite.org/json1.html (SQLite JSON functions).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from labs.cpp_wrapping.cosmos_parse import (  # noqa: F401  (re-exported: callers use cosmos_sql.*)
    AGGREGATES, COMPARISONS, KEYWORDS, MAX_JOINS, ArrayLit, Between, CosmosSqlError, Func, InList, Lit, Param,
    Parser, Path, Query, SelectItem, Token, Unary, Binary, parse, tokenize,
)

TABLE = "items"  # the SQLite table holding one JSON document per row (see knowledge.py)
# Cosmos has a value SQLite lacks: undefined (a property the document does not have). Inside the
# statement it is SQL NULL, and JSON null stays the JSON text 'null'. A projected undefined becomes
# this marker, which `strip_undefined` removes from each row: Cosmos leaves the property out.
UNDEFINED_MARK = "\u2063cosmos:undefined\u2063"
# Suffix of the hidden parameters that carry each user parameter's JSON type (see bind_params).
TYPE_SUFFIX = "__cosmos_type"
ARITHMETIC = {"+", "-", "*", "/", "%"}
# Result types of the system functions, for type-checked comparisons (None: depends on the input).
STRING_FUNCS = {"LOWER", "UPPER", "TRIM", "LTRIM", "RTRIM", "CONCAT", "SUBSTRING", "REPLACE"}
NUMBER_FUNCS = {"LENGTH", "ABS", "ROUND", "INDEX_OF", "ARRAY_LENGTH", "COUNT", "SUM", "AVG", "VECTORDISTANCE"}
# ORDER BY across types, ascending (Cosmos returns items whose sort property is undefined, first).
TYPE_RANK = {"null": 1, "boolean": 2, "number": 3, "string": 4, "array": 5, "object": 6}


def _cosmos_type(sqlite_type: str) -> str:
    """SQL mapping SQLite's json_type()/json_each.type names to Cosmos' type names (NULL = undefined)."""
    return (f"(CASE {sqlite_type} WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
            f"WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' WHEN 'text' THEN 'string' ELSE {sqlite_type} END)")


def json_type_name(value: Any) -> str:
    """Cosmos' type name of a Python value decoded from JSON (for parameters)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def strip_undefined(value: Any, *, is_value: bool) -> tuple[bool, Any]:
    """Remove undefined from one decoded row: (keep, row). A SELECT VALUE of undefined keeps no row."""
    if is_value:
        return value != UNDEFINED_MARK, value
    if isinstance(value, dict):
        return True, {k: v for k, v in value.items() if v != UNDEFINED_MARK}
    return True, value


# --- Translation to SQLite ---------------------------------------------------------------------

def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_path(steps: list[str | int]) -> str:
    """SQLite JSON path for steps, e.g. ['authors', 0, 'name'] -> $.authors[0].name"""
    out = "$"
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", step):
            out += f".{step}"
        else:
            out += '."' + step.replace('"', '\\"') + '"'
    return out


@dataclass
class Translation:
    """The SQLite statement for a Cosmos query, plus what is needed to run and check it."""

    sql: str
    params: dict[str, Any]
    value: bool  # True: each row is one JSON value (SELECT VALUE / *); False: a JSON object
    paths: list[str]  # document paths the query reads, e.g. "authors[].name" (for field checks)
    param_names: list[str]
    param_types: list[str] = field(default_factory=list)  # parameters that also need a :name__cosmos_type


class Translator:
    """Turns a parsed `Query` into one SQLite SELECT over the `items` table."""

    BOOLEAN_FUNCS = {"ARRAY_CONTAINS", "CONTAINS", "STARTSWITH", "ENDSWITH", "IS_DEFINED", "IS_NULL",
                     "IS_STRING", "IS_NUMBER", "IS_BOOL", "IS_ARRAY", "IS_OBJECT"}

    def __init__(self, q: Query):
        self.q = q
        # alias -> (SQL expression of its JSON text, document path prefix for field checks)
        self.sources: dict[str, tuple[str, str]] = {q.alias: (f"{q.alias}.body", "")}
        self.paths: list[str] = []
        self.param_names: list[str] = []
        self.param_types: set[str] = set()  # parameters whose JSON type a comparison needs
        self.anonymous = 0

    # Paths -------------------------------------------------------------------------------------
    def _source(self, path: Path) -> tuple[str, str]:
        if path.root not in self.sources:
            known = ", ".join(self.sources)
            raise CosmosSqlError(f"Unknown alias {path.root!r} in {self._path_text(path)}: the query "
                                 f"defines {known}. Start paths with one of them, e.g. {self.q.alias}.title.")
        return self.sources[path.root]

    @staticmethod
    def _path_text(path: Path) -> str:
        return path.root + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path.steps)

    def _record(self, path: Path) -> None:
        _, prefix = self._source(path)
        doc_path = prefix
        for step in path.steps:
            doc_path += "[]" if isinstance(step, int) else (("." if doc_path else "") + step)
        if doc_path:
            self.paths.append(doc_path)

    def path_value(self, path: Path) -> str:
        base, _ = self._source(path)
        self._record(path)
        if not path.steps:
            return base
        return f"({base} ->> {_sql_str(json_path(path.steps))})"

    def path_json(self, path: Path) -> str:
        base, _ = self._source(path)
        self._record(path)
        if not path.steps:
            if base.endswith(".body"):
                return f"json({base})"
            # json_each's value column gives SQL NULL for JSON null and 1/0 for true/false.
            alias = base.rsplit(".", 1)[0]
            return (f"(CASE {alias}.type WHEN 'null' THEN json('null') WHEN 'true' THEN json('true') "
                    f"WHEN 'false' THEN json('false') ELSE {base} END)")
        return f"({base} -> {_sql_str(json_path(path.steps))})"

    def path_parts(self, path: Path) -> tuple[str, str]:
        """(JSON text expression, JSON path) for functions that take both (json_each, json_type)."""
        base, _ = self._source(path)
        self._record(path)
        return base, json_path(path.steps)

    # Expressions -------------------------------------------------------------------------------
    def value(self, node: Any) -> str:
        """SQL for `node` as a plain SQL value (used in WHERE, ORDER BY, GROUP BY, arguments)."""
        if isinstance(node, Lit):
            if node.value is None:
                return "NULL"
            if isinstance(node.value, bool):
                return "1" if node.value else "0"  # SQLite reads JSON true/false as 1/0
            if isinstance(node.value, str):
                return _sql_str(node.value)
            return repr(node.value)
        if isinstance(node, Param):
            self.param_names.append(node.name)
            return f":{node.name}"
        if isinstance(node, Path):
            return self.path_value(node)
        if isinstance(node, ArrayLit):
            return f"json_array({', '.join(self.json(i) for i in node.items)})"
        if isinstance(node, Unary):
            return f"(NOT {self.value(node.expr)})" if node.op == "NOT" else f"(-{self.value(node.expr)})"
        if isinstance(node, Binary):
            if node.op == "??":
                return f"COALESCE({self.value(node.left)}, {self.value(node.right)})"
            if node.op in COMPARISONS:
                return self.comparison(node)
            if node.op in ARITHMETIC:
                # Arithmetic on anything but two numbers is undefined in Cosmos (SQLite would read 'a' as 0).
                left, right = self.number(node.left), self.number(node.right)
                if node.op == "/":
                    return f"(CAST({left} AS REAL) / {right})"  # Cosmos divides as doubles: 7 / 2 = 3.5
                return f"({left} {node.op} {right})"
            return f"({self.value(node.left)} {node.op} {self.value(node.right)})"
        if isinstance(node, Between):
            neg = "NOT " if node.negated else ""
            return f"({self.value(node.expr)} {neg}BETWEEN {self.value(node.low)} AND {self.value(node.high)})"
        if isinstance(node, InList):
            neg = "NOT " if node.negated else ""
            return f"({self.value(node.expr)} {neg}IN ({', '.join(self.value(i) for i in node.items)}))"
        if isinstance(node, Func):
            return self.func(node)
        raise CosmosSqlError(f"Cannot translate {node!r}.")

    def type_of(self, node: Any) -> str | None:
        """SQL giving the Cosmos type name of `node` ('number', 'string', ...; NULL when undefined).

        None when this translator cannot tell (MIN/MAX, ??): comparisons then follow SQLite's rules.
        """
        if isinstance(node, Lit):
            return _sql_str(json_type_name(node.value))
        if isinstance(node, Param):
            self.param_types.add(node.name)
            return f":{node.name}{TYPE_SUFFIX}"
        if isinstance(node, Path):
            base, jp = self.path_parts(node)
            if not node.steps:
                return "'object'" if base.endswith(".body") else _cosmos_type(f"{base.rsplit('.', 1)[0]}.type")
            return _cosmos_type(f"json_type({base}, {_sql_str(jp)})")
        if isinstance(node, ArrayLit):
            return "'array'"
        if isinstance(node, Binary) and node.op in ARITHMETIC or isinstance(node, Unary) and node.op == "-":
            return "'number'"
        if isinstance(node, Binary) and node.op == "||":
            return "'string'"
        if self._is_boolean(node):
            return "'boolean'"
        if isinstance(node, Func) and node.name in STRING_FUNCS:
            return "'string'"
        if isinstance(node, Func) and node.name in NUMBER_FUNCS:
            return "'number'"
        return None

    def number(self, node: Any) -> str:
        """SQL for `node` as a number, or NULL (undefined) when it is not one."""
        if isinstance(node, Lit):
            return "NULL" if node.value is None or isinstance(node.value, (bool, str)) else repr(node.value)
        kind = self.type_of(node)
        if kind == "'number'":
            return self.value(node)
        if kind is None:
            return self.value(node)
        return f"(CASE WHEN {kind} = 'number' THEN {self.value(node)} END)"

    def comparison(self, node: Binary) -> str:
        """A comparison with Cosmos' rules: operands of different types, or undefined, give undefined.

        Equality also holds between two nulls; ordering (<, >, ...) two objects or arrays is undefined.
        """
        op = "!=" if node.op == "<>" else node.op
        left, right = self.value(node.left), self.value(node.right)
        lt, rt = self.type_of(node.left), self.type_of(node.right)
        if lt is None or rt is None:
            return f"({left} {op} {right})"
        same = f"{lt} = {rt}"
        if op not in ("=", "!="):
            same += f" AND {lt} NOT IN ('array', 'object')"
        on_null = "1" if op in ("=", "<=", ">=") else "0"
        return f"(CASE WHEN {same} THEN IIF({lt} = 'null', {on_null}, {left} {op} {right}) END)"

    def projection(self, node: Any) -> str:
        """SQL for a projected value: its JSON, or the undefined marker (left out of the row later)."""
        return f"IFNULL({self.json(node)}, json({_sql_str(json.dumps(UNDEFINED_MARK))}))"

    def order_key(self, expr: Any, direction: str) -> str:
        """ORDER BY with Cosmos' order across types: undefined, null, booleans, numbers, strings, arrays, objects."""
        kind = self.type_of(expr) if isinstance(expr, Path) else None
        value = self.value(expr)
        if kind is None:
            return f"{value} {direction}"
        ranks = " ".join(f"WHEN '{name}' THEN {rank}" for name, rank in TYPE_RANK.items())
        return f"(CASE {kind} {ranks} ELSE 0 END) {direction}, {value} {direction}"

    def json(self, node: Any) -> str:
        """SQL for `node` as a JSON value (used in projections, so objects and arrays stay JSON)."""
        if isinstance(node, Path):
            return self.path_json(node)
        if isinstance(node, Lit) and isinstance(node.value, bool):
            return f"json({_sql_str('true' if node.value else 'false')})"
        if isinstance(node, Lit) and node.value is None:
            return "json('null')"
        if isinstance(node, Param):
            self.param_names.append(node.name)
            return f":{node.name}"  # lists and objects are bound as JSON text (see bind_params)
        if self._is_boolean(node):
            # No ELSE: an undefined condition (SQL NULL) stays undefined instead of becoming false.
            return f"json(CASE {self.value(node)} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)"
        return self.value(node)

    def _is_boolean(self, node: Any) -> bool:
        if isinstance(node, (Between, InList)):
            return True
        if isinstance(node, Unary) and node.op == "NOT":
            return True
        if isinstance(node, Binary) and (node.op in COMPARISONS or node.op in ("AND", "OR")):
            return True
        return isinstance(node, Func) and node.name in self.BOOLEAN_FUNCS

    def _array_source(self, node: Any, fname: str) -> str:
        """SQL table-valued source of the elements of an array argument."""
        if isinstance(node, Path):
            base, jp = self.path_parts(node)
            return f"json_each({base}, {_sql_str(jp)})"
        if isinstance(node, Param):
            self.param_names.append(node.name)
            return f"json_each(:{node.name})"
        if isinstance(node, ArrayLit):
            return f"json_each({self.value(node)})"
        raise CosmosSqlError(f"{fname} needs an array: a document path (c.tags), a parameter (@tags) "
                             "or an array literal (['a', 'b']).")

    def func(self, node: Func) -> str:
        name, args = node.name, node.args

        def need(lo: int, hi: int | None = None) -> None:
            hi = lo if hi is None else hi
            if not lo <= len(args) <= hi:
                count = str(lo) if lo == hi else f"{lo} to {hi}"
                raise CosmosSqlError(f"{name} takes {count} argument(s), got {len(args)}.")

        def ignore_case(index: int) -> bool:
            if len(args) <= index:
                return False
            flag = args[index]
            if not (isinstance(flag, Lit) and isinstance(flag.value, bool)):
                raise CosmosSqlError(f"The last argument of {name} must be true or false (ignore case).")
            return flag.value

        if name in AGGREGATES:
            need(1)
            return f"{name}({self.value(args[0])})"
        if name == "ARRAY_CONTAINS":
            need(2, 3)
            if isinstance(args[1], Func) or (len(args) == 3 and ignore_case(2)):
                raise CosmosSqlError("ARRAY_CONTAINS with object matching (partial = true) is not supported "
                                     "by this local translator; use JOIN x IN c.array WHERE x.field = ... instead.")
            return f"EXISTS (SELECT 1 FROM {self._array_source(args[0], name)} WHERE value = {self.value(args[1])})"
        if name == "ARRAY_LENGTH":
            need(1)
            if isinstance(args[0], Path):
                base, jp = self.path_parts(args[0])
                return f"json_array_length({base}, {_sql_str(jp)})"
            return f"json_array_length({self.value(args[0])})"
        if name in ("CONTAINS", "STARTSWITH", "ENDSWITH"):
            need(2, 3)
            s, sub = self.value(args[0]), self.value(args[1])
            if ignore_case(2):
                s, sub = f"lower({s})", f"lower({sub})"
            if name == "CONTAINS":
                return f"(instr({s}, {sub}) > 0)"
            if name == "STARTSWITH":
                return f"(substr({s}, 1, length({sub})) = {sub})"
            return f"(substr({s}, -length({sub})) = {sub})"
        if name in ("LOWER", "UPPER", "LENGTH", "TRIM", "LTRIM", "RTRIM", "ABS"):
            need(1)
            return f"{name.lower()}({self.value(args[0])})"
        if name == "ROUND":
            need(1, 2)
            return f"round({', '.join(self.value(a) for a in args)})"
        if name == "CONCAT":
            need(2, 20)
            return "(" + " || ".join(self.value(a) for a in args) + ")"
        if name == "SUBSTRING":
            need(3)  # Cosmos counts from 0, SQLite from 1
            return f"substr({self.value(args[0])}, {self.value(args[1])} + 1, {self.value(args[2])})"
        if name == "INDEX_OF":
            need(2)
            return f"(instr({self.value(args[0])}, {self.value(args[1])}) - 1)"
        if name == "REPLACE":
            need(3)
            return f"replace({', '.join(self.value(a) for a in args)})"
        if name.startswith("IS_"):
            need(1)
            kinds = {"IS_DEFINED": None, "IS_NULL": "('null')", "IS_STRING": "('text')",
                     "IS_NUMBER": "('integer', 'real')", "IS_BOOL": "('true', 'false')",
                     "IS_ARRAY": "('array')", "IS_OBJECT": "('object')"}
            if name in kinds and isinstance(args[0], Path):
                base, jp = self.path_parts(args[0])
                typ = f"json_type({base}, {_sql_str(jp)})"
                return f"({typ} IS NOT NULL)" if kinds[name] is None else f"({typ} IN {kinds[name]})"
            if name in kinds:
                raise CosmosSqlError(f"{name} needs a document path here, e.g. {name}(c.links).")
        if name == "VECTORDISTANCE":
            need(2, 4)
            # A Python function registered on the connection (knowledge.py): cosine similarity.
            return f"vector_distance({self.json(args[0])}, {self.json(args[1])})"
        supported = sorted(AGGREGATES | {"ARRAY_CONTAINS", "ARRAY_LENGTH", "CONTAINS", "STARTSWITH", "ENDSWITH",
                                         "LOWER", "UPPER", "LENGTH", "TRIM", "ROUND", "CONCAT", "SUBSTRING",
                                         "INDEX_OF", "REPLACE", "IS_DEFINED", "IS_STRING", "IS_NUMBER",
                                         "VectorDistance"})
        raise CosmosSqlError(f"The function {name} (at character {node.pos + 1}) is not supported by this "
                             f"local translator. Supported: {', '.join(supported)}.")

    # The statement -----------------------------------------------------------------------------
    def select_name(self, item: SelectItem, index: int) -> str:
        if item.alias:
            return item.alias
        if isinstance(item.expr, Path):
            steps = [s for s in item.expr.steps if isinstance(s, str)]
            return steps[-1] if steps else item.expr.root
        return f"${index}"  # Cosmos names unnamed expressions $1, $2, ...

    def translate(self, partition_key: str | None = None) -> Translation:
        q = self.q
        from_sql = f"FROM {TABLE} AS {q.alias}"
        for alias, source in q.joins:
            if alias in self.sources:
                raise CosmosSqlError(f"The alias {alias!r} is used twice; give each JOIN its own alias.")
            base, jp = self.path_parts(source)
            _, prefix = self._source(source)
            doc_prefix = prefix
            for step in source.steps:
                doc_prefix += "[]" if isinstance(step, int) else (("." if doc_prefix else "") + step)
            from_sql += f"\n  JOIN json_each({base}, {_sql_str(jp)}) AS {alias}"
            self.sources[alias] = (f"{alias}.value", doc_prefix + "[]")
        if q.select is None:
            if q.joins:
                raise CosmosSqlError("SELECT * is only valid with a single input set (no JOIN). "
                                     "Name the fields you want, e.g. SELECT c.title, t FROM c JOIN t IN c.tags.")
            columns = f"json({q.alias}.body)"
        elif q.value:
            columns = f"json_quote({self.projection(q.select[0].expr)})"
        else:
            pairs = []
            for index, item in enumerate(q.select, start=1):
                pairs.append(f"{_sql_str(self.select_name(item, index))}, {self.projection(item.expr)}")
            columns = "json_object(" + ", ".join(pairs) + ")"
        conditions = []
        if q.where is not None:
            conditions.append(self.value(q.where))
        if partition_key is not None:
            # query_items(partition_key=...) scopes a query to one logical partition.
            conditions.append(f"{q.alias}.pk = :partition_key")
        sql = f"SELECT {'DISTINCT ' if q.distinct else ''}{columns}\n{from_sql}"
        if conditions:
            sql += "\nWHERE " + "\n  AND ".join(conditions)
        if q.group_by:
            sql += "\nGROUP BY " + ", ".join(self.value(e) for e in q.group_by)
        if q.order_by:
            parts = []
            for expr, direction in q.order_by:
                if isinstance(expr, Func) and expr.name == "VECTORDISTANCE":
                    direction = "DESC"  # Cosmos orders VectorDistance most-similar first
                    parts.append(f"{self.value(expr)} {direction}")
                    continue
                parts.append(self.order_key(expr, direction))
            sql += "\nORDER BY " + ", ".join(parts)
        if q.top is not None and q.limit is not None:
            raise CosmosSqlError("Use either TOP n or OFFSET ... LIMIT ..., not both.")
        if q.top is not None:
            sql += f"\nLIMIT {self.value(q.top)}"
        if q.limit is not None:
            sql += f"\nLIMIT {self.value(q.limit)} OFFSET {self.value(q.offset)}"
        params = {"partition_key": partition_key} if partition_key is not None else {}
        return Translation(sql, params, q.value or q.select is None, self.paths, self.param_names,
                           sorted(self.param_types))


def translate(query: str, partition_key: str | None = None) -> Translation:
    """Parse a Cosmos NoSQL query and translate it to one SQLite statement.

    Args:
        query: The Cosmos query text.
        partition_key: Restrict to one logical partition, as `query_items(partition_key=...)` does.

    Raises:
        CosmosSqlError: For syntax errors (with line/column) and unsupported constructs.
    """
    try:
        return Translator(parse(query)).translate(partition_key)
    except RecursionError:
        raise CosmosSqlError("The query is nested too deeply (parentheses, NOT or a long chain of AND/OR) "
                             "for this translator. Simplify it, e.g. use IN (...) instead of many ORs.") from None


def bind_params(translation: Translation, parameters: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Turn Cosmos-style parameters ``[{"name": "@tag", "value": "gpu"}]`` into SQLite's named ones.

    Lists and objects are bound as JSON text (SQLite reads them with json_each / json()).

    Raises:
        CosmosSqlError: For malformed parameters, or ones the query uses but that were not given.
    """
    bound = dict(translation.params)
    for entry in parameters or []:
        if not isinstance(entry, dict) or "name" not in entry or "value" not in entry:
            raise CosmosSqlError('Each parameter must look like {"name": "@tag", "value": "gpu"}; '
                                 f"got {json.dumps(entry)[:80]}.")
        name = str(entry["name"])
        if not name.startswith("@"):
            raise CosmosSqlError(f"Parameter names start with @ (got {name!r}).")
        if name[1:] in translation.params:
            raise CosmosSqlError(f"The parameter name {name} is reserved for the partition key; choose another name.")
        value = entry["value"]
        if name[1:] in translation.param_types:
            bound[name[1:] + TYPE_SUFFIX] = json_type_name(value)
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, (list, dict)):
            value = json.dumps(value, separators=(",", ":"))  # SQLite's own minified form, so = compares texts
        bound[name[1:]] = value
    missing = sorted({n for n in translation.param_names if n not in bound})
    if missing:
        raise CosmosSqlError(f"The query uses {', '.join('@' + n for n in missing)} but no value was given. "
                             'Add it to the parameters, e.g. [{"name": "@' + missing[0] + '", "value": ...}].')
    return bound
