"""Lab 5 (cpp_wrapping): the SQLite stand-in against Cosmos DB's documented handling of undefined.

A differential suite: each case is a query over the small container below, and its expected result
is written from Microsoft's documentation of the Cosmos DB for NoSQL query language, not from
running this code:

- Projections: a property whose expression is undefined (missing from the document, or computed from
  something missing) is left out of the result object; SELECT VALUE of undefined gives no result.
  https://learn.microsoft.com/azure/cosmos-db/nosql/query/select and .../query/is-defined
- IS_DEFINED: true when the property has a value (null is a value), false when it is missing.
- Equality and comparisons: undefined compared with anything is undefined; values of different types
  compare as undefined (`0 = "true"` matches nothing); null = null holds; comparing (<, >) two
  objects or arrays is undefined; a WHERE whose condition is undefined leaves the item out, and
  NOT undefined is undefined. https://learn.microsoft.com/azure/cosmos-db/nosql/query/equality-comparison-operators
- ORDER BY returns items whose sort property is undefined too, and orders across types as
  undefined, null, boolean, number, string (ascending). .../query/order-by
- Arithmetic: an operand that is undefined or not a number makes the result undefined; division
  is on doubles (7 / 2 = 3.5). .../query/operators
"""

from __future__ import annotations

import pytest

from labs.cpp_wrapping import knowledge

# One container, ids chosen so that the expected lists read easily.
DOCS = [
    {"id": "a", "kind": "t", "qty": 5, "note": None, "on": True, "name": "ann", "dims": [1, 2]},
    {"id": "b", "kind": "t", "qty": "5", "name": "bob"},
    {"id": "c", "kind": "t"},
    {"id": "d", "kind": "t", "qty": 7, "note": "x", "on": False, "dims": [1, 2, 3]},
    {"id": "e", "kind": "t", "qty": None},
]

CASES = [
    # Projections of missing properties: left out, never null.
    ("SELECT c.id, c.qty FROM c ORDER BY c.id", [],
     [{"id": "a", "qty": 5}, {"id": "b", "qty": "5"}, {"id": "c"}, {"id": "d", "qty": 7}, {"id": "e", "qty": None}]),
    ("SELECT c.note FROM c WHERE c.id = 'c'", [], [{}]),
    ("SELECT VALUE c.note FROM c ORDER BY c.id", [], [None, "x"]),
    ("SELECT c.id, null AS z FROM c WHERE c.id = 'c'", [], [{"id": "c", "z": None}]),
    # IS_DEFINED: null is defined, a missing property is not.
    ("SELECT c.id, IS_DEFINED(c.note) AS d FROM c ORDER BY c.id", [],
     [{"id": "a", "d": True}, {"id": "b", "d": False}, {"id": "c", "d": False}, {"id": "d", "d": True},
      {"id": "e", "d": False}]),
    ("SELECT VALUE c.id FROM c WHERE NOT IS_DEFINED(c.qty) ORDER BY c.id", [], ["c"]),
    # Comparisons with undefined, and across types.
    ("SELECT VALUE c.id FROM c WHERE c.qty = 5 ORDER BY c.id", [], ["a"]),
    ("SELECT VALUE c.id FROM c WHERE c.qty != 5 ORDER BY c.id", [], ["d"]),
    ("SELECT VALUE c.id FROM c WHERE NOT (c.qty = 5) ORDER BY c.id", [], ["d"]),
    ("SELECT VALUE c.id FROM c WHERE c.qty > '0' ORDER BY c.id", [], ["b"]),
    ("SELECT VALUE c.id FROM c WHERE 0 = 'true'", [], []),
    ("SELECT VALUE c.id FROM c WHERE c.qty = null ORDER BY c.id", [], ["e"]),
    ("SELECT VALUE c.id FROM c WHERE c.note != null ORDER BY c.id", [], []),
    ("SELECT VALUE c.id FROM c WHERE c.on = true", [], ["a"]),
    ("SELECT VALUE c.id FROM c WHERE c.on = 1", [], []),
    ("SELECT VALUE c.id FROM c WHERE c.dims > c.dims", [], []),
    ("SELECT VALUE c.id FROM c WHERE c.qty = @q ORDER BY c.id", [{"name": "@q", "value": "5"}], ["b"]),
    ("SELECT VALUE c.id FROM c WHERE c.qty = @q ORDER BY c.id", [{"name": "@q", "value": None}], ["e"]),
    ("SELECT VALUE c.id FROM c WHERE c.dims = @d", [{"name": "@d", "value": [1, 2]}], ["a"]),
    # A projected comparison that is undefined is left out too.
    ("SELECT c.id, c.qty = 5 AS five FROM c ORDER BY c.id", [],
     [{"id": "a", "five": True}, {"id": "b"}, {"id": "c"}, {"id": "d", "five": False}, {"id": "e"}]),
    # ORDER BY keeps undefined and orders across types: undefined, null, number, string.
    ("SELECT VALUE c.id FROM c ORDER BY c.qty", [], ["c", "e", "a", "d", "b"]),
    ("SELECT VALUE c.id FROM c ORDER BY c.qty DESC", [], ["b", "d", "a", "e", "c"]),
    ("SELECT VALUE c.id FROM c ORDER BY c.on, c.id", [], ["b", "c", "e", "d", "a"]),
    # Arithmetic on undefined, null or a string is undefined; division is on doubles.
    ("SELECT c.id, c.qty + 1 AS next FROM c ORDER BY c.id", [],
     [{"id": "a", "next": 6}, {"id": "b"}, {"id": "c"}, {"id": "d", "next": 8}, {"id": "e"}]),
    ("SELECT VALUE c.qty / 2 FROM c ORDER BY c.id", [], [2.5, 3.5]),
    ("SELECT VALUE c.id FROM c WHERE c.qty * 2 > 11", [], ["d"]),
]


@pytest.mark.parametrize("query, params, expected", CASES, ids=[c[0] for c in CASES])
def test_stand_in_matches_documented_cosmos_behaviour(query, params, expected):
    assert knowledge.run_query(query, params, documents=DOCS).rows == expected


def test_join_values_keep_null_and_booleans_as_json():
    docs = [{"id": "j", "kind": "t", "xs": [None, True, 2, "s", {"k": 1}]}]
    rows = knowledge.run_query("SELECT VALUE x FROM c JOIN x IN c.xs", documents=docs).rows
    assert rows == [None, True, 2, "s", {"k": 1}]
    assert knowledge.run_query("SELECT VALUE x FROM c JOIN x IN c.xs WHERE x = true", documents=docs).rows == [True]
