"""The Cosmos DB NoSQL query language: tokens, syntax tree and a recursive-descent parser.

`parse(text)` returns a `Query` tree for the subset this lab supports (SELECT [DISTINCT] [TOP n]
[VALUE] ..., FROM, JOIN ... IN, WHERE, GROUP BY, ORDER BY, OFFSET ... LIMIT, parameters, system
functions and aggregates). Syntax errors carry the line, column and a caret, as a database would.
At most `MAX_JOINS` JOINs are accepted: each one multiplies the rows the database walks.
`cosmos_sql` translates the tree to SQLite.

Reference: https://learn.microsoft.com/azure/cosmos-db/nosql/query/ (the Cosmos query language).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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
