"""Python's own knowledge: the standard library's directory listings, the builtins and
helpers that sort or keep the order of what they are given, pathlib's listing methods."""

from __future__ import annotations

from dllint.semantic.effects import Effect, Match, Row, rows

# Directory listings whose order is whatever the filesystem returns.
LISTING_FUNCTIONS = {
    "glob.glob": "glob.glob", "glob.iglob": "glob.iglob", "os.listdir": "os.listdir",
    "os.scandir": "os.scandir", "os.walk": "os.walk",
}
# pathlib.Path methods (and look-alikes) with the same property, whatever the receiver.
LISTING_METHODS = frozenset({"glob", "rglob", "iterdir"})
# Calls that put a listing in a stable order.
SORTING = frozenset({"builtins.sorted", "natsort.natsorted", "natsort.os_sorted",
                     "natsort.humansorted", "numpy.sort"})
# Calls that keep the order of their iterable argument (the last one for map and filter).
ORDER_KEEPING = frozenset({"builtins.list", "builtins.tuple", "builtins.reversed", "builtins.map",
                           "builtins.filter", "numpy.array", "numpy.asarray", "itertools.islice"})


# Python 2/3 compatibility modules that re-export builtins under their own name (`from six.moves
# import range, zip`): the import resolves to the builtin, so `zip(names, range(len(names)))`
# reads the same with them as without.
_REEXPORTED_BUILTINS = ("range", "zip", "map", "filter", "input", "round", "sorted", "reversed",
                        "list", "dict", "str", "int", "open", "next", "super", "object")
BUILTIN_ALIASES = {
    **{f"{module}.{name}": f"builtins.{name}" for module in
       ("six.moves", "six.moves.builtins", "future.builtins") for name in
       _REEXPORTED_BUILTINS},
    # Python 2's lazy spellings, which Python 3 folded into the builtins.
    **{f"{module}.{old}": f"builtins.{new}" for module in ("six.moves", "past.builtins")
       for old, new in (("xrange", "range"), ("izip", "zip"), ("imap", "map"),
                        ("ifilter", "filter"))},
}


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
    *rows(Effect.LISTING, LISTING_FUNCTIONS),
    *rows(Effect.SORTING, SORTING),
    *rows(Effect.BUILTIN_ORDER_KEEPING, ("builtins.list", "builtins.tuple", "builtins.reversed")),
    # map(f, listing) and filter(f, listing) keep the order of their last argument.
    *rows(Effect.BUILTIN_ORDER_KEEPING, ("builtins.map", "builtins.filter"), position=-1),
    Row("builtins.next", Effect.WALK_STEP),
    Row("functools.partial", Effect.PARTIAL),
    *rows(Effect.LISTING_METHOD, LISTING_METHODS, match=Match.METHOD),
)

# Bases that make no class a module (an abstract base, a generic): with only these, a class that
# defines `forward` is still a plain class.
PLAIN_BASES = frozenset({"object", "builtins.object", "abc.ABC", "typing.Generic",
                         "typing.Protocol"})
