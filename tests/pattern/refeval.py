#!/usr/bin/env python3
"""refeval.py - an independent, deliberately simple evaluator of JSON filter patterns.

It parses the pattern with a regex tokenizer and evaluates it on json.loads() of the message,
following reference/filter-patterns.md section 3 (and the choices in docs/filter-patterns.md).
It exists to cross-check the C engine on records whose expected outcome nobody wrote down
(generated records, the real CloudTrail records in ../shared/data). It supports only what the
CIS patterns and the property tests use: selectors, = != < <= > >=, quoted/bare values with
leading/trailing '*', IS NULL/TRUE/FALSE, NOT EXISTS, && || and parentheses.
"""
import json
import re

TOKEN = re.compile(r'\s*(?:(\|\||&&|\(|\)|\{|\}|!=|<=|>=|=|<|>)|("(?:\\.|[^"\\])*")|'
                   r'(\$[A-Za-z0-9_.\-\[\]]+)|([^\s(){}=!<>&|"]+))')
NUMBER = re.compile(r'^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$')
MISSING = object()


def tokenize(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError("bad token at %d" % pos)
        pos = m.end()
        op, qs, sel, word = m.groups()
        if op:
            out.append(("op", op))
        elif qs:
            out.append(("str", re.sub(r'\\(["\\])', r'\1', qs[1:-1])))
        elif sel:
            out.append(("sel", sel))
        else:
            out.append(("word", word))
    return out


def resolve(doc, sel):
    cur = doc
    for name, idx in re.findall(r'\.([A-Za-z0-9_\-]+)|\[(\d+)\]', sel[1:]):
        if name:
            if not isinstance(cur, dict) or name not in cur:
                return MISSING
            cur = cur[name]
        else:
            i = int(idx)
            if not isinstance(cur, list) or i >= len(cur):
                return MISSING
            cur = cur[i]
    return cur


def text_of(v, raw_numbers):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return raw_numbers.get(id(v), repr(v))


def wild(pat, s):
    body = pat.strip("*")
    if pat and not body:
        return True
    lead, trail = pat.startswith("*"), pat.endswith("*")
    if lead and trail:
        return body in s
    if lead:
        return s.endswith(body)
    if trail:
        return s.startswith(body)
    return s == body


class Cond:
    def __init__(self, sel, op, kind, val):
        self.sel, self.op, self.kind, self.val = sel, op, kind, val

    def eval(self, doc):
        v = resolve(doc, self.sel)
        if self.op == "NOT EXISTS":
            return v is MISSING
        if self.op == "IS NULL":
            return v is None
        if self.op == "IS TRUE":
            return v is True
        if self.op == "IS FALSE":
            return v is False
        if v is MISSING or v is None or isinstance(v, (dict, list)):
            return False
        if self.kind == "num":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return False
            a, b = float(v), float(self.val)
            return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
                    ">=": a >= b}[self.op]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            s = doc["__raw__"].get(self.sel, json.dumps(v))
        else:
            s = text_of(v, {})
        m = wild(self.val, s)
        return m if self.op == "=" else not m


class Parser:
    def __init__(self, toks):
        self.t, self.i = toks, 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse_or(self):
        kids = [self.parse_and()]
        while self.peek() == ("op", "||"):
            self.take()
            kids.append(self.parse_and())
        return ("or", kids)

    def parse_and(self):
        kids = [self.parse_primary()]
        while self.peek() == ("op", "&&"):
            self.take()
            kids.append(self.parse_primary())
        return ("and", kids)

    def parse_primary(self):
        if self.peek() == ("op", "("):
            self.take()
            e = self.parse_or()
            if self.take() != ("op", ")"):
                raise ValueError("expected )")
            return e
        kind, sel = self.take()
        if kind != "sel":
            raise ValueError("expected selector")
        k, v = self.take()
        if (k, v) == ("word", "IS"):
            return ("cond", Cond(sel, "IS " + self.take()[1], None, None))
        if (k, v) == ("word", "NOT"):
            self.take()
            return ("cond", Cond(sel, "NOT EXISTS", None, None))
        op = v
        k2, val = self.take()
        if k2 == "word" and NUMBER.match(val):
            return ("cond", Cond(sel, op, "num", val))
        if op in ("<", "<=", ">", ">="):
            raise ValueError("numeric operator needs a number")
        return ("cond", Cond(sel, op, "str", val))


def compile_pattern(text):
    toks = tokenize(text)
    if not toks or toks[0] != ("op", "{") or toks[-1] != ("op", "}"):
        raise ValueError("not a JSON pattern")
    p = Parser(toks[1:-1])
    e = p.parse_or()
    if p.i != len(p.t):
        raise ValueError("trailing tokens")
    return e


def _eval(e, doc):
    kind, body = e
    if kind == "cond":
        return body.eval(doc)
    if kind == "and":
        return all(_eval(k, doc) for k in body)
    return any(_eval(k, doc) for k in body)


def _raw_numbers(msg, expr):
    """Textual form of numbers as written, for quoted-value comparisons (E1-E3)."""
    raw = {}

    def walk(e):
        if e[0] == "cond":
            c = e[1]
            if c.kind == "str":
                raw[c.sel] = None
        else:
            for k in e[1]:
                walk(k)
    walk(expr)
    out = {}
    for sel in raw:
        path = re.findall(r'\.([A-Za-z0-9_\-]+)|\[(\d+)\]', sel[1:])
        if all(name for name, _ in path):
            # find the raw text by parsing with parse_float/parse_int hooks on the subtree
            v = resolve(json.loads(msg, parse_float=lambda s: _Num(s), parse_int=lambda s: _Num(s)), sel)
            if isinstance(v, _Num):
                out[sel] = str(v)
    return out


class _Num(str):
    pass


def matches(expr, msg):
    try:
        doc = json.loads(msg)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    wrapper = dict(doc)
    wrapper["__raw__"] = _raw_numbers(msg, expr)
    return _eval(expr, wrapper)
