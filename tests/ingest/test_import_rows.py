"""`tracker import` stores exactly what it stored before its speed-ups.

The oracle below is the per-line import code as it was before the fast paths (orjson, the
checks in their original order, `parse_event`, a `Context` per line, `encode_row`), with its
rows inserted as plain JSONEachRow. A varied file (good lines of every shape, and bad lines of
every kind) goes through both; every stored column, the materialised `dedup_ver` included, and
every per-line error must be the same.
"""

from __future__ import annotations

import io
import math
import random
import re
import time
from datetime import UTC, datetime

import msgspec
import orjson
from tracker.cli.import_ import _chunks
from tracker.ingest.importer import _HTTP, MAX_LINE_BYTES, PARALLEL_MIN_LINES, Importer, ImportResult, _is_id, _pieces
from tracker.ingest.rows import Context, encode_row
from tracker.ingest.schema import ID_RE, MAX_ID_LEN, Env, Event, EventError, Order, Promo, parse_event


def _oracle_ts_ms(raw: object) -> int:
    if isinstance(raw, bool):
        raise EventError("ts must be epoch milliseconds or an ISO 8601 time")
    if isinstance(raw, (int, float)) and math.isfinite(raw):
        return int(raw)
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise EventError("ts must be epoch milliseconds or an ISO 8601 time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    raise EventError("ts is required (epoch milliseconds or ISO 8601)")


def oracle(runtime, site: str, lines: list[bytes], first_line: int = 1) -> tuple[bytes, list[dict]]:
    rows, errors = [], []
    now_ms = int(time.time() * 1000)
    for offset, line in enumerate(lines):
        number = first_line + offset
        if not line.strip():
            continue
        try:
            if len(line) > MAX_LINE_BYTES:
                raise EventError(f"line is longer than {MAX_LINE_BYTES} bytes")
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise EventError(f"not valid JSON ({exc.args[0] if exc.args else 'parse error'})") from None
            if not isinstance(raw, dict):
                raise EventError("line must be a JSON object")
            vid = raw.get("vid")
            if not isinstance(vid, str) or not vid or len(vid) > MAX_ID_LEN or not ID_RE.match(vid):
                raise EventError("vid is required (1-64 letters, digits or . _ : -)")
            ts = _oracle_ts_ms(raw.get("ts"))
            if not 946_684_800_000 <= ts <= now_ms + 86_400_000:
                raise EventError("ts is out of range (before 2000 or in the future)")
            ip = raw.get("ip")
            ua = raw.get("ua")
            if ip is not None and not isinstance(ip, str) or ua is not None and not isinstance(ua, str):
                raise EventError("ip and ua must be strings")
            del raw["vid"]
            raw.pop("ip", None)
            raw.pop("ua", None)
            raw["ts"] = ts
            event = parse_event(raw)
            prefix, ip_hash = runtime.network.describe(ip) if ip else ("", "")
            if ip and not prefix:
                raise EventError("ip is not an IP address")
            ctx = Context(site=site, received_ms=ts, vid=vid, id_source="import", agent=runtime.agents.parse(ua or ""),
                          ip_prefix=prefix, ip_hash=ip_hash, has_origin=True)
            rows.append(encode_row(event, ctx, ts_ms=ts))
        except EventError as exc:
            errors.append({"line": number, "error": str(exc)})
    return b"".join(rows), errors


UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.31",
    "",
    "   ",
    "Ünïcödé-Agent/1.0 \"quoted\" \\ back",
    "Mozilla/5.0 " + "x" * 600,
]
IPS = ["198.51.100.7", "203.0.113.250", "2001:db8:85a3::8a2e:370:7334", "::ffff:192.0.2.33", "10.0.0.1", "", None]
URLS = [
    "https://shop.example/",
    "https://Shop.Example:8443/p/1?utm_source=News&utm_medium=EMAIL&utm_campaign=Spring%20Sale&utm_term=a+b&utm_content=hero",
    "https://shop.example/p/2?gclid=abc123&x=1",
    "https://shop.example/account?email=jane.doe%40mail.example&token=secret&q=call+0612345678",
    "https://shop.example/users/jane@mail.example/orders#frag",
    "https://shop.example/caf\u00e9/men\u00fc?s=gr\u00fcn",
    "http://shop.example:99999/bad-port?utm_source=",
    "https://shop.example/p?a=1&a=2&&b&c=%ZZ",
    "https://shop.example/search?q=" + "9" * 30,
    "https://[::1]:8080/v6",
]
T0 = 1767225600000
# Integers orjson cannot write and reads back as floats (msgspec would keep them as ints).
HUGE = {"<2**64>": b"18446744073709551616", "<-2**63-1>": b"-9223372036854775809", "<10**30>": b"1" + b"0" * 30}


def _event(rnd: random.Random, i: int) -> dict:
    """A valid line, or one with a mistake in it; every other line is plain (ASCII, no escapes,
    epoch-ms ts: what the import's fast path takes), the rest go anywhere."""
    plain = i % 2 == 0
    pick = (lambda options: rnd.choice([o for o in options if o is None or not isinstance(o, str) or (o.isascii() and "\\" not in o)])) if plain else rnd.choice
    kind = rnd.choice(["pageview", "pageview", "promo_view", "promo_click", "purchase", "add_to_cart", "checkout", "custom"])
    line: dict = {"type": kind, "id": f"e{i}.{rnd.randrange(10**6)}", "url": pick(URLS), "vid": rnd.choice(["v1", "v2", "Vis:it-or_3.x", "z" * 64])}
    line["ts"] = T0 + i * 1013 if plain else rnd.choice([T0 + i * 1013, T0 + i * 1013 + 0.75, "2026-01-02T03:04:05.678Z", "2026-01-02T03:04:05+02:00", "2026-01-02 03:04:05"])
    if (ua := pick(UAS + [None])) is not None:
        line["ua"] = ua
    if (ip := rnd.choice(IPS)) is not None:
        line["ip"] = ip
    if rnd.random() < 0.3:
        line["ref"] = rnd.choice(["", "https://www.google.com/search?q=shoes", "https://news.example/a?email=x%40y.example", "https://shop.example/?gclid=1"])
    if rnd.random() < 0.2:
        line["sid"] = pick(["s1", "", "session-\u00e9"])
    if kind in ("promo_view", "promo_click") or rnd.random() < 0.1:
        line["promo"] = {"id": pick(["P1", "SPRING-24", "pr\u00f6mo", ""]), "name": rnd.choice(["", "Spring sale", None]),
                         "creative": rnd.choice(["", "hero.png"]), "slot": rnd.choice(["", "top"]), "variant": rnd.choice(["", "exposed", "holdout"])}
        if rnd.random() < 0.1:
            line["promo"]["extra"] = 1
    if kind == "purchase" or rnd.random() < 0.05:
        line["order"] = {"id": rnd.choice([f"o{i}", f"o{i}", ""]), "revenue": rnd.choice([0, 5, 12.5, 19.99, 123.456789, 9999999.99991, rnd.uniform(0, 500), None]),
                         "currency": rnd.choice(["eur", "USD", "", "Gbp"]), "coupon": pick(["", " spring10 ", "\u03a9mega", "SAVE"])}
        if rnd.random() < 0.2:
            del line["order"][rnd.choice(["revenue", "currency", "coupon"])]
    if kind == "custom" or rnd.random() < 0.1:
        line["name"] = pick(["signup", "n\u00e4me", "x" * 200, "", "x" * 201])
    if rnd.random() < 0.2:
        line["props"] = {"plan": "pro", "seats": rnd.randrange(100), "ratio": 0.1 + rnd.random(), "trial": rnd.random() < 0.5,
                         "big": rnd.choice([10**15, 2**63, 2**64 - 1, -(2**63)]), "k\u00e9y" if not plain else "key": "v\u00e4l \"q\" \\" if not plain else "v"}
        if rnd.random() < 0.2:
            line["props"]["huge"] = rnd.choice(list(HUGE))  # written as a bare integer below
    if rnd.random() < 0.2:
        line["env"] = {"webdriver": rnd.choice([True, False, None]), "screen": "1920x1080", "lang": "de-DE", "tz": "Europe/Berlin"}
        if rnd.random() < 0.2:
            line["env"] = {k: v for k, v in line["env"].items() if rnd.random() < 0.5}
    if rnd.random() < 0.05:
        line[rnd.choice(["unknown_field", "client_ts"])] = {"nested": [1, 2, {"a": None}]}
    if rnd.random() < 0.03:
        line[rnd.choice(["ref", "sid", "promo", "order", "props", "env", "name", "ip", "ua"])] = None
    if rnd.random() < 0.02:
        line["ts"] = rnd.choice([1, 4_102_444_800_000, T0 + 0.5, True, next(iter(HUGE))])
    return line


def varied_lines(count: int = 400) -> list[bytes]:
    rnd = random.Random(20261125)
    lines = [orjson.dumps(_event(rnd, i)) for i in range(count)]
    for marker, digits in HUGE.items():
        lines = [line.replace(b'"' + marker.encode() + b'"', digits) for line in lines]
    good = {"type": "pageview", "id": "x", "url": "https://shop.example/", "vid": "v1", "ts": T0}
    odd = [
        b"", b"   ", b"\t",
        b"{not json", b"[1, 2]", b'"text"', b"123", b"null", b"{}",
        b'{"type":"pageview","id":"nan","url":"https://shop.example/","vid":"v1","ts":NaN}',
        b'{"type":"pageview","id":"lone","url":"https://shop.example/\\ud800","vid":"v1","ts":1767225600000}',
        b'{"type":"pageview","id":"pair","url":"https://shop.example/\\ud83d\\ude00","vid":"v1","ts":1767225600000}',
        b'{"type":"pageview","id":"esc","url":"https://shop.example/caf\\u00e9?q=\\"x\\"","vid":"v1","ts":1767225600000}',
        b'{"type":"pageview","id":"ctl","url":"https://shop.example/a\\nb","vid":"v1","ts":1767225600000}',
        b'{"type":"pageview","id":"tab","url":"https://shop.example/","vid":"v1","ts":1767225600000,"props":{"k":"a\\tb"}}',
        b'{"type":"pageview","id":"del","url":"https://shop.example/\x7f","vid":"v1","ts":1767225600000}',
        b'{"type":"pageview","id":"bad-utf8","url":"https://shop.example/\xff","vid":"v1","ts":1767225600000}',
        b'{"type":"pageview","id":"dup","id":"dup2","url":"https://shop.example/","vid":"v1","ts":1767225600000}',
        b'{"type":"pageview","id":"dupvid","url":"https://shop.example/","vid":"v1","vid":"v2","ts":1767225600000}',
        b'{ "type" : "pageview" , "id" : "spaced" , "url" : "https://shop.example/" , "vid" : "v1" , "ts" : 1767225600000 }\r',
        b'{"type":"pageview","id":"nulls","url":"https://shop.example/","vid":"v1","ts":1767225600000,"ref":null,"promo":{"id":"P","name":null},"ip":null,"ua":null}',
        b'{"type":"pageview","id":"bigint","url":"https://shop.example/","vid":"v1","ts":1767225600000,"props":{"n":123456789012345678901234567890}}',
        b'{"type":"pageview","id":"exp","url":"https://shop.example/","vid":"v1","ts":1.7672256e12}',
        b'{"type":"pageview","id":"neg0","url":"https://shop.example/","vid":"v1","ts":1767225600000,"order":{"id":"o","revenue":-0.0}}',
        b'{"type":"pageview","id":"deep","url":"https://shop.example/","vid":"v1","ts":1767225600000,"props":{"a":{"b":1}}}',
        b'{"type":"pageview","id":"deeper","url":"https://shop.example/","vid":"v1","ts":1767225600000,"x":' + b"[" * 2000 + b"]" * 2000 + b"}",
    ]
    for broken in (
        {"vid": None}, {"vid": ""}, {"vid": "bad vid"}, {"vid": 7}, {"vid": "v" * 65},
        {"ts": None}, {"ts": True}, {"ts": "yesterday"}, {"ts": 1}, {"ts": 4_102_444_800_000}, {"ts": "1999-12-31T23:59:59Z"},
        {"ip": 5}, {"ua": ["x"]}, {"ip": "not-an-ip"}, {"ip": "999.1.1.1"},
        {"type": "nope"}, {"type": None}, {"id": "has space"}, {"id": ""}, {"url": "ftp://shop.example/"}, {"url": "https://" + "a" * 2048},
        {"type": "promo_view"}, {"type": "purchase"}, {"type": "purchase", "order": {"id": "o1"}}, {"type": "custom"},
        {"order": {"id": "o", "revenue": 10_000_001}}, {"order": {"id": "o", "revenue": -1}}, {"order": {"id": "o", "revenue": "5"}},
        {"order": {"id": "o", "revenue": 1, "currency": "EURO"}}, {"promo": {"id": "P", "variant": "other"}},
        {"props": {str(i): i for i in range(26)}}, {"props": {"": "x"}}, {"props": {"k": "v" * 501}}, {"props": []},
        {"env": {"webdriver": "yes"}}, {"env": {"screen": "x" * 33}}, {"name": "n" * 201}, {"sid": "s" * 65},
        {"ref": "javascript:alert(1)"}, {"ref": 5},
    ):
        lines.append(orjson.dumps({**good, "id": f"broken{len(lines)}", **broken}))
    lines.append(b'{"type":"pageview","id":"long","url":"https://shop.example/","vid":"v1","ts":1767225600000,"props":{"k":"' + b"x" * MAX_LINE_BYTES + b'"}}')
    rnd.shuffle(odd)
    for i, line in enumerate(odd):
        lines.insert(rnd.randrange(len(lines)), line)
    return lines


def stored_rows(storage, site: str) -> list[tuple]:
    return storage.query("SELECT * EXCEPT (site), dedup_ver FROM events WHERE site = {s:String} ORDER BY event_id, ts, url",
                         {"s": site}).rows


def test_varied_lines_store_exactly_what_the_reference_import_stored(runtime, new_site):
    lines = varied_lines()
    reference_site, import_site = new_site(), new_site()
    rows, errors = oracle(runtime, reference_site, lines)
    runtime.storage.insert_jsonl("events", rows)
    result = Importer(runtime.storage, runtime.agents, runtime.network).import_chunk(import_site, lines, 1)
    assert result.errors == errors
    assert result.accepted == rows.count(b"\n") > 300
    assert len(errors) > 50
    expected = stored_rows(runtime.storage, reference_site)
    assert stored_rows(runtime.storage, import_site) == expected
    assert len(expected) == result.accepted


def test_encoded_bytes_match_the_reference_row_for_row(runtime):
    """The rows themselves, before ClickHouse sees them: byte for byte."""
    lines = varied_lines(2000)
    rows, errors = oracle(runtime, "bytes-site", lines, first_line=7)
    result = ImportResult()
    assert Importer(None, runtime.agents, runtime.network).encode_lines("bytes-site", lines, 7, result) == rows  # type: ignore[arg-type]
    assert result.errors == errors


def test_parallel_import_matches_the_reference(runtime, new_site):
    """A chunk large enough for the worker processes: same rows, same line numbers."""
    lines = varied_lines(PARALLEL_MIN_LINES + 500)
    reference_site, import_site = new_site(), new_site()
    rows, errors = oracle(runtime, reference_site, lines, first_line=1001)
    runtime.storage.insert_jsonl("events", rows)
    importer = Importer(runtime.storage, runtime.agents, runtime.network, pool=runtime.import_pool)
    assert importer.pool is not None
    result = importer.import_chunk(import_site, lines, 1001)
    assert result.errors == errors and result.accepted == rows.count(b"\n")
    assert stored_rows(runtime.storage, import_site) == stored_rows(runtime.storage, reference_site)


def test_the_fast_path_copies_every_event_field():
    """`Importer._encode_plain` builds Event, Promo, Order and Env field by field: a new field
    must be added there too (the strict line struct gets it by itself)."""
    fields = {kind.__name__: {f.name for f in msgspec.structs.fields(kind)} for kind in (Event, Promo, Order, Env)}
    assert fields == {
        "Event": {"type", "id", "url", "ts", "ref", "sid", "vid", "name", "promo", "order", "props", "env"},
        "Promo": {"id", "name", "creative", "slot", "variant"},
        "Order": {"id", "revenue", "currency", "coupon"},
        "Env": {"webdriver", "screen", "lang", "tz"},
    }


def test_cli_chunks_are_the_files_lines():
    """The CLI reads the file in blocks: its chunks must hold exactly the lines that iterating
    the file gave (trailing CRs dropped, a last line without "\\n"), numbered from 1, and
    account for every byte of the file, wherever the blocks and chunks end."""
    rnd = random.Random(11)
    pieces = [b"a", b"bc", b"\r", b"\n", b"\r\n", b"{}", b" ", b"\n\n"]
    for _ in range(3000):
        data = b"".join(rnd.choice(pieces) for _ in range(rnd.randrange(0, 60)))
        expected = [line.rstrip(b"\r\n") for line in io.BytesIO(data)]
        for size, read, smallest, total in ((1, 1, 1, None), (4, 3, 1, len(data)), (9, 2, 3, None), (50, 7, 2, len(data)), (10**6, 5, 10**6, None)):
            lines, took, number = [], 0, 1
            for first, body, size_taken in _chunks(io.BytesIO(data), size, read, total=total, smallest=smallest):
                assert first == number
                chunk = body.split(b"\n")
                lines += chunk
                number += len(chunk)
                took += size_taken
            assert lines == expected and took == len(data)


def test_fast_path_string_checks_are_the_schema_patterns():
    """On the ASCII, newline-free strings of a plain line, `_is_id` is ID_PATTERN and the
    http prefix checks are the url and ref patterns of Event."""
    rnd = random.Random(5)
    alphabet = "aZ09._:-/ h\tps:\x7f" + "".join(chr(c) for c in range(32, 127))
    url_re, ref_re = re.compile(r"^https?://"), re.compile(r"^(https?://.*)?$")
    samples = ["", "a", "a" * 64, "a" * 65, "-a", "a-", "http://", "https://x", "http:/", "HTTP://x", "ftp://x"]
    samples += ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 70))) for _ in range(20000)]
    samples += [rnd.choice(["http://", "https://", "a", "1"]) + "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 70))) for _ in range(5000)]
    for text in samples:
        assert _is_id(text) == bool(ID_RE.search(text)), text
        assert text.startswith(_HTTP) == bool(url_re.search(text)), text
        assert (not text or text.startswith(_HTTP)) == bool(ref_re.search(text)), text


def test_worker_pieces_are_the_bodys_lines():
    rnd = random.Random(2)
    for _ in range(5000):
        body = b"".join(rnd.choice([b"a", b"\n", b"bb", b"\n\n", b"\r"]) for _ in range(rnd.randrange(0, 40)))
        for parts in (1, 2, 3, 5, 40):
            lines: list[bytes] = []
            for before, piece in _pieces(body, parts):
                assert before == len(lines)
                lines += piece.split(b"\n")
            assert lines == body.split(b"\n")
