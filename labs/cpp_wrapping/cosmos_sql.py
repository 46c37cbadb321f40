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

TABLE = "items"  # the SQLite table holding one JSON document per row (see knowledge.py)
# Each JOIN multiplies the rows by the length of the array it unrolls (x4.3 per JOIN on the shipped
# documents: 11 JOINs ran 39 s), so a query may have at most this many, in every mode.
MAX_JOINS = 4

KEYWORDS = {
    "SELECT", "DISTINCT", "TOP", "VALUE", "AS", "FROM", "JOIN", "IN", "WHERE", "AND", "OR", "NOT",
    "ORDER", "BY", "ASC", "DESC", "OFFSET", "LIMIT", "GROUP", "TRUE", "FALSE", "NULL", "BETWEEN",
    "UNDEFINED",
}
AGGREGATES = {"COUNT", "SUM", "AVG", "MIN", "MAX"}
COMPARISONS = {"=", "!=", "<>", "<", "<=", ">", ">="}
_TOKEN = re.compile(r"""
    (?P<ws>\s+|--[^\n]*)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<param>@[A-Za-z_][A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|<>|\|\||\?\?|[=<>+\-*/%(),.\[\]])
""", re.VERBOSE)


class CosmosSqlError(ValueError):
    """A query the translator cannot accept; the message gives the position and the fix."""


@dataclass
class Token:
    kind: str  # number, string, param, ident, keyword, op, end
    text: str
    pos: int


def _where(query: str, pos: int) -> str:
    """'line L, column C' plus the offending line with a caret under the position."""
    line_no = query.count("\n", 0, pos) + 1
    start = query.rfind("\n", 0, pos) + 1
    end = query.find("\n", pos)
    line = query[start:end if end != -1 else len(query)]
    col = pos - start + 1
    return f"line {line_no}, column {col}:\n    {line}\n    {' ' * (col - 1)}^"


def tokenize(query: str) -> list[Token]:
    """Split a query into tokens; unknown characters raise `CosmosSqlError` with their position."""
    tokens, pos = [], 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if not m:
            raise CosmosSqlError(f"Syntax error: unexpected character {query[pos]!r} at {_where(query, pos)}")
        kind = m.lastgroup
        text = m.group()
        if kind == "ident" and text.upper() in KEYWORDS:
            kind, text = "keyword", text.upper()
        if kind != "ws":
            tokens.append(Token(kind, text, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(query)))
    return tokens


# --- The syntax tree --------------------------------------------------------------------------

@dataclass
class Lit:
    value: Any


@dataclass
class Param:
    name: str  # without the @


@dataclass
class Path:
    root: str  # an alias: the FROM alias or a JOIN alias
    steps: list[str | int]
    pos: int = 0


@dataclass
class ArrayLit:
    items: list[Any]


@dataclass
class Func:
    name: str  # upper case
    args: list[Any]
    pos: int = 0


@dataclass
class Unary:
    op: str
    expr: Any


@dataclass
class Binary:
    op: str
    left: Any
    right: Any


@dataclass
class Between:
    expr: Any
    low: Any
    high: Any
    negated: bool


@dataclass
class InList:
    expr: Any
    items: list[Any]
    negated: bool


@dataclass
class SelectItem:
    expr: Any
    alias: str | None


@dataclass
class Query:
    """A parsed Cosmos query."""

    select: list[SelectItem] | None  # None means SELECT *
    value: bool = False
    distinct: bool = False
    top: Any = None
    container: str = "c"
    alias: str = "c"
    joins: list[tuple[str, Path]] = field(default_factory=list)
    where: Any = None
    group_by: list[Any] = field(default_factory=list)
    order_by: list[tuple[Any, str]] = field(default_factory=list)
    offset: Any = None
    limit: Any = None


class Parser:
    """Recursive descent over the token list, one method per grammar rule."""

    def __init__(self, query: str):
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0

    # Helpers -----------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, expected: str, tok: Token | None = None) -> CosmosSqlError:
        tok = tok or self.tok
        found = "the end of the query" if tok.kind == "end" else repr(tok.text)
        return CosmosSqlError(f"Syntax error: expected {expected}, found {found} at {_where(self.query, tok.pos)}")

    def accept(self, *texts: str) -> Token | None:
        if self.tok.kind in ("keyword", "op") and self.tok.text in texts:
            tok = self.tok
            self.i += 1
            return tok
        return None

    def expect(self, text: str) -> Token:
        tok = self.accept(text)
        if tok is None:
            raise self.error(text)
        return tok

    def ident(self, what: str) -> Token:
        if self.tok.kind != "ident":
            raise self.error(what)
        tok = self.tok
        self.i += 1
        return tok

    # Grammar -----------------------------------------------------------------------------------
    def parse(self) -> Query:
        """query := SELECT [DISTINCT] [TOP n] (* | VALUE expr | item, ...) FROM ... [clauses]"""
        self.expect("SELECT")
        q = Query(select=None)
        q.distinct = bool(self.accept("DISTINCT"))
        if self.accept("TOP"):
            q.top = self.integer_or_param("a number after TOP")
        if self.accept("*"):
            q.select = None
        elif self.accept("VALUE"):
            q.value = True
            q.select = [SelectItem(self.expr(), None)]
        else:
            q.select = [self.select_item()]
            while self.accept(","):
                q.select.append(self.select_item())
        self.expect("FROM")
        q.container = self.ident("a container alias such as c").text
        q.alias = q.container
        if self.accept("AS") or self.tok.kind == "ident":
            q.alias = self.ident("an alias after the container name").text
        while self.accept("JOIN"):
            if len(q.joins) == MAX_JOINS:
                count = sum(1 for t in self.tokens if t.kind == "keyword" and t.text == "JOIN")
                raise CosmosSqlError(
                    f"This query has {count} JOINs; at most {MAX_JOINS} are allowed here, because each JOIN "
                    "multiplies the rows by the length of its array. Remove a JOIN, or test an array with "
                    "ARRAY_CONTAINS(c.tags, 'gpu') in WHERE instead.")
            alias = self.ident("an alias after JOIN (JOIN t IN c.tags)").text
            self.expect("IN")
            source = self.primary()
            if not isinstance(source, Path):
                raise CosmosSqlError("JOIN must unroll an array path of the document, e.g. JOIN t IN c.tags.")
            q.joins.append((alias, source))
        if self.accept("WHERE"):
            q.where = self.expr()
        if self.accept("GROUP"):
            self.expect("BY")
            q.group_by.append(self.expr())
            while self.accept(","):
                q.group_by.append(self.expr())
        if self.accept("ORDER"):
            self.expect("BY")
            q.order_by.append(self.order_item())
            while self.accept(","):
                q.order_by.append(self.order_item())
        if self.accept("OFFSET"):
            q.offset = self.integer_or_param("a number after OFFSET")
            self.expect("LIMIT")
            q.limit = self.integer_or_param("a number after LIMIT")
        if self.tok.kind != "end":
            raise self.error("the end of the query (or WHERE, GROUP BY, ORDER BY, OFFSET ... LIMIT)")
        return q

    def integer_or_param(self, what: str) -> Any:
        tok = self.tok
        if tok.kind == "number" and tok.text.isdigit():
            self.i += 1
            return Lit(int(tok.text))
        if tok.kind == "param":
            self.i += 1
            return Param(tok.text[1:])
        raise self.error(what)

    def select_item(self) -> SelectItem:
        expr = self.expr()
        alias = None
        if self.accept("AS"):
            alias = self.ident("a name after AS").text
        return SelectItem(expr, alias)

    def order_item(self) -> tuple[Any, str]:
        expr = self.expr()
        direction = "ASC"
        if tok := self.accept("ASC", "DESC"):
            direction = tok.text
        return expr, direction

    def expr(self) -> Any:
        return self.or_expr()

    def or_expr(self) -> Any:
        left = self.and_expr()
        while self.accept("OR"):
            left = Binary("OR", left, self.and_expr())
        return left

    def and_expr(self) -> Any:
        left = self.not_expr()
        while self.accept("AND"):
            left = Binary("AND", left, self.not_expr())
        return left

    def not_expr(self) -> Any:
        if self.accept("NOT"):
            return Unary("NOT", self.not_expr())
        return self.comparison()

    def comparison(self) -> Any:
        left = self.coalesce()
        if tok := self.accept(*COMPARISONS):
            return Binary("!=" if tok.text == "<>" else tok.text, left, self.coalesce())
        negated = bool(self.accept("NOT"))
        if self.accept("BETWEEN"):
            low = self.coalesce()
            self.expect("AND")
            return Between(left, low, self.coalesce(), negated)
        if self.accept("IN"):
            self.expect("(")
            items = [self.expr()]
            while self.accept(","):
                items.append(self.expr())
            self.expect(")")
            return InList(left, items, negated)
        if negated:
            raise self.error("BETWEEN or IN after NOT")
        return left

    def coalesce(self) -> Any:
        left = self.additive()
        while self.accept("??"):
            left = Binary("??", left, self.additive())
        return left

    def additive(self) -> Any:
        left = self.multiplicative()
        while tok := self.accept("+", "-", "||"):
            left = Binary(tok.text, left, self.multiplicative())
        return left

    def multiplicative(self) -> Any:
        left = self.unary()
        while tok := self.accept("*", "/", "%"):
            left = Binary(tok.text, left, self.unary())
        return left

    def unary(self) -> Any:
        if self.accept("-"):
            return Unary("-", self.unary())
        return self.primary()

    def primary(self) -> Any:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            return Lit(float(tok.text) if any(ch in tok.text for ch in ".eE") else int(tok.text))
        if tok.kind == "string":
            self.i += 1
            body = tok.text[1:-1]
            return Lit(re.sub(r"\\(.)", r"\1", body))
        if tok.kind == "param":
            self.i += 1
            return Param(tok.text[1:])
        if tok.kind == "keyword" and tok.text in ("TRUE", "FALSE", "NULL"):
            self.i += 1
            return Lit({"TRUE": True, "FALSE": False, "NULL": None}[tok.text])
        if self.accept("("):
            inner = self.expr()
            self.expect(")")
            return inner
        if self.accept("["):
            items = []
            if not self.accept("]"):
                items.append(self.expr())
                while self.accept(","):
                    items.append(self.expr())
                self.expect("]")
            return ArrayLit(items)
        if tok.kind == "ident":
            self.i += 1
            if self.accept("("):
                args = []
                if not self.accept(")"):
                    args.append(self.expr())
                    while self.accept(","):
                        args.append(self.expr())
                    self.expect(")")
                return Func(tok.text.upper(), args, tok.pos)
            path = Path(tok.text, [], tok.pos)
            while True:
                if self.accept("."):
                    path.steps.append(self.ident("a property name after '.'").text)
                elif self.accept("["):
                    inner = self.tok
                    if inner.kind == "number" and inner.text.isdigit():
                        path.steps.append(int(inner.text))
                    elif inner.kind == "string":
                        path.steps.append(inner.text[1:-1])
                    else:
                        raise self.error("an array index or a quoted property name inside [ ]")
                    self.i += 1
                    self.expect("]")
                else:
                    return path
        raise self.error("a value, a property path, a parameter or a function")


def parse(query: str) -> Query:
    """Parse a Cosmos NoSQL query; raise `CosmosSqlError` (with position) if it is not valid."""
    if not query or not query.strip():
        raise CosmosSqlError("The query is empty. Write one, e.g. SELECT * FROM c WHERE c.kind = 'paper'.")
    return Parser(query).parse()


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
            return f"json({base})" if base.endswith(".body") else base
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

    def json(self, node: Any) -> str:
        """SQL for `node` as a JSON value (used in projections, so objects and arrays stay JSON)."""
        if isinstance(node, Path):
            return self.path_json(node)
        if isinstance(node, Lit) and isinstance(node.value, bool):
            return f"json({_sql_str('true' if node.value else 'false')})"
        if isinstance(node, Param):
            self.param_names.append(node.name)
            return f":{node.name}"  # lists and objects are bound as JSON text (see bind_params)
        if self._is_boolean(node):
            return f"json(IIF({self.value(node)}, 'true', 'false'))"
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
            columns = f"json_quote({self.json(q.select[0].expr)})"
        else:
            pairs = []
            for index, item in enumerate(q.select, start=1):
                pairs.append(f"{_sql_str(self.select_name(item, index))}, {self.json(item.expr)}")
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
            sql += "\nORDER BY " + ", ".join(parts)
        if q.top is not None and q.limit is not None:
            raise CosmosSqlError("Use either TOP n or OFFSET ... LIMIT ..., not both.")
        if q.top is not None:
            sql += f"\nLIMIT {self.value(q.top)}"
        if q.limit is not None:
            sql += f"\nLIMIT {self.value(q.limit)} OFFSET {self.value(q.offset)}"
        params = {"partition_key": partition_key} if partition_key is not None else {}
        return Translation(sql, params, q.value or q.select is None, self.paths, self.param_names)


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
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, (list, dict)):
            value = json.dumps(value)
        bound[name[1:]] = value
    missing = sorted({n for n in translation.param_names if n not in bound})
    if missing:
        raise CosmosSqlError(f"The query uses {', '.join('@' + n for n in missing)} but no value was given. "
                             'Add it to the parameters, e.g. [{"name": "@' + missing[0] + '", "value": ...}].')
    return bound
