"""Issue 16, network none: the loopback resolver. Every name the command
tries to resolve is answered REFUSED at once by a resolver on 127.0.0.1:53
inside the sandbox (src/ns/resolver.c, served by the supervisor) and shows
in the verdict as a `network` violation `lookup NAME`; nothing resolves, and
nothing else is reachable."""

import json
import shutil
import subprocess

import pytest

from conftest import RUN_TIMEOUT
from test_session import Sessions

RESOLVER_MAX_QUERIES = 4096  # NS_RESOLVER_MAX_QUERIES (src/ns/resolver.h)
VIOL_MAX = 100               # src/core/violation.h

# A DNS client speaking to the sandbox's resolver by hand: query(name_wire)
# returns (rcode, id echoed, question echoed, counts) or the error.
DNS_CLIENT = r"""
import json, socket, struct, sys

def wire(labels):
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\x00"

def query(name_wire, qid=0x1234, qtype=1):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect(("127.0.0.1", 53))
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name_wire + struct.pack(">HH", qtype, 1)
    s.send(q)
    try:
        a = s.recv(4096)
    except socket.timeout:
        return {"timeout": True}
    finally:
        s.close()
    qid_a, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", a[:12])
    return {"rcode": flags & 15, "qr": bool(flags & 0x8000), "id_ok": qid_a == qid,
            "question_ok": a[12:] == q[12:], "counts": [qd, an, ns, ar]}
"""


def lookups(verdict):
    return [v for v in verdict["violations"] if v["layer"] == "network" and v["operation"] == "lookup"]


def script(tmp, code):
    return ["-v", tmp.script_dir(DNS_CLIENT + code) + ":/input:ro", "--", "python3", "/input/test.py"]


def test_seed_urlopen_records_the_lookup_and_fails_fast(zb):
    # The seed's network test: in the default sandbox (network none).
    r, out = zb.json("--", "/usr/bin/python3", "-c",
                     "import urllib.request; urllib.request.urlopen('http://google.com', timeout=3)")
    assert out["status"] == "exited" and out["exit_code"] == 1, r
    assert "name resolution" in out["stderr"] or "Name or service" in out["stderr"], out["stderr"]
    # REFUSED is final: no 3 s timeout, no 5 s resolver retry.
    assert out["wall_ms"] < 2500, out["wall_ms"]
    v = lookups(out)
    assert [x["target"] for x in v] == ["google.com"], out["violations"]
    assert v[0]["rule"] == "network none"
    assert "--net-allow" in v[0]["hint"] and "network.allow" in v[0]["hint"]
    assert v[0]["count"] >= 1 and 0 <= v[0]["first_ms"] <= out["wall_ms"]
    assert out["violation_sources"]["dns"] == "observed"


def test_getent_and_a_aaaa_dedup(zb):
    # getaddrinfo asks for A and AAAA: one entry for the name, counted twice;
    # another spelling of the same name is the same entry (names are lower-cased).
    r, out = zb.json("--", "sh", "-c", "getent ahosts pypi.org; getent ahosts PyPI.Org; getent hosts x.test; exit 0")
    assert out["status"] == "exited" and out["stdout"] == "", r
    v = {x["target"]: x for x in lookups(out)}
    assert sorted(v) == ["pypi.org", "x.test"], out["violations"]
    assert v["pypi.org"]["count"] >= 4, v  # A + AAAA, twice
    assert all(x["rule"] == "network none" for x in v.values())


def test_names_are_untrusted_255_bytes_and_control_characters(zb, tmp):
    code = r"""
long = [bytes([97 + i]) * (63 if i < 3 else 61) for i in range(4)]
out = {
    "long": query(wire(long)),
    "ctl": query(wire([b"evil\x07\x1b[31m\xff\xfe", b"test"])),
    "too_long": query(wire(long[:3] + [b"d" * 62])),
    "garbage": None,
    "after": query(wire([b"after", b"test"])),
}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
s.sendto(b"\x12\x34\x01", ("127.0.0.1", 53))
try:
    s.recv(100)
    out["garbage"] = "answered"
except socket.timeout:
    out["garbage"] = "dropped"
print(json.dumps(out))
"""
    r, out = zb.json(*script(tmp, code))
    assert out["status"] == "exited" and out["exit_code"] == 0, r
    got = json.loads(out["stdout"])
    for k in ("long", "ctl", "after"):
        assert got[k] == {"rcode": 5, "qr": True, "id_ok": True, "question_ok": True,
                          "counts": [1, 0, 0, 0]}, (k, got)
    # A name longer than 255 bytes and a cut header get no answer at all.
    assert got["too_long"] == {"timeout": True} and got["garbage"] == "dropped", got
    targets = [x["target"] for x in lookups(out)]
    long_name = ".".join(c * (63 if i < 3 else 61) for i, c in enumerate("abcd"))
    assert long_name in targets, targets
    ctl = [t for t in targets if t.startswith("evil")]
    assert ctl == ["evil\\007\\027[31m\\255\\254.test"], targets
    assert "after.test" in targets and len(targets) == 3, targets
    for t in targets:
        assert all(0x20 < ord(c) < 0x7f for c in t), t


def test_flood_is_bounded_and_on_time(zb, tmp):
    # 10,000 distinct names, each waited for: the first RESOLVER_MAX_QUERIES
    # are answered, then the socket is closed and the kernel refuses the rest
    # at once (a query already queued when it closes gets no answer: one
    # timeout at most); the verdict holds VIOL_MAX entries and counts the others.
    code = r"""
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("127.0.0.1", 53))
answered = refused = timeouts = 0
for i in range(10000):
    q = struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + wire([b"n%d" % i, b"test"]) + b"\x00\x01\x00\x01"
    try:
        s.send(q)
        s.recv(512)
        answered += 1
    except ConnectionRefusedError:
        refused += 1
    except socket.timeout:
        timeouts += 1
        if timeouts > 2:
            break
print(json.dumps({"answered": answered, "refused": refused, "timeouts": timeouts}))
"""
    r, out = zb.json("--timeout", "60s", *script(tmp, code), timeout=90)
    assert out["status"] == "exited" and out["exit_code"] == 0, r
    got = json.loads(out["stdout"])
    assert got["answered"] == RESOLVER_MAX_QUERIES and got["timeouts"] <= 1, got
    assert got["refused"] == 10000 - RESOLVER_MAX_QUERIES - got["timeouts"], got
    assert len(lookups(out)) == VIOL_MAX, len(out["violations"])
    assert out["violations_dropped"] == RESOLVER_MAX_QUERIES - VIOL_MAX, out.get("violations_dropped")


def test_nothing_is_reachable_but_the_resolver(zb, tmp):
    code = r"""
import errno
def tcp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(addr)
        return "connected"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
def udp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", addr)
        return "sent"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
out = {"tcp53": tcp(("127.0.0.1", 53)), "udp_out": udp(("8.8.8.8", 53)), "tcp_out": tcp(("93.184.216.34", 80)),
       "resolv": open("/etc/resolv.conf").read(), "dns": query(wire([b"example", b"org"]), qtype=28)}
print(json.dumps(out))
"""
    r, out = zb.json(*script(tmp, code))
    assert out["status"] == "exited" and out["exit_code"] == 0, r
    got = json.loads(out["stdout"])
    assert got["tcp53"] == "ECONNREFUSED", got  # UDP only: no TCP listener, nothing behind it
    assert got["udp_out"] == "ENETUNREACH" and got["tcp_out"] == "ENETUNREACH", got
    assert "nameserver 127.0.0.1\n" in got["resolv"], got
    # The resolver answers, with no record: it never resolves anything.
    assert got["dns"]["rcode"] == 5 and got["dns"]["counts"] == [1, 0, 0, 0], got
    assert [x["target"] for x in lookups(out)] == ["example.org"], out["violations"]


@pytest.mark.parametrize("mode", [["--network", "loopback"], ["--network", "host"],
                                  ["--net-allow", "example.org:443"]], ids=["loopback", "host", "allowlist"])
def test_no_resolver_outside_network_none(zb_root, mode):
    # loopback: port 53 stays the command's own; host: the host's network;
    # allowlist: names go through the proxy (its refusals are the proxy's).
    r, out = zb_root.json(*mode, "--", "sh", "-c", "cat /etc/resolv.conf; exit 0")
    assert out["status"] == "exited", r
    assert "127.0.0.1" not in out["stdout"] or mode[1] == "host", out["stdout"]
    assert "dns" not in out["violation_sources"], out
    if mode[1] == "loopback":
        # Port 53 is free (the command, without capabilities, may not bind it: EACCES, not EADDRINUSE).
        r, out = zb_root.json(*mode, "--", "python3", "-c",
                              "import errno, socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                              "try: s.bind(('127.0.0.1', 53)); print('bound')\n"
                              "except OSError as e: print(errno.errorcode[e.errno])")
        assert out["stdout"] in ("bound\n", "EACCES\n"), r


STRACE = shutil.which("strace")


@pytest.mark.skipif(not STRACE, reason="skipped: strace not installed (it counts the supervisor's polls)")
@pytest.mark.parametrize("mode", [["--network", "host"], ["--net-allow", "example.org:443"]],
                         ids=["host", "allowlist"])
def test_no_resolver_no_poll_of_the_callers_stdin(zb_root, mode, tmp_path):
    # Without a resolver its slot was all zero, fd 0: the supervisor polled
    # the caller's stdin and, /dev/null being always readable, spun on it
    # (recvfrom: ENOTSOCK) for as long as the command ran: ~2000 polls in
    # 0.3 s. A run polls a handful of times (setup EOF, status, exit).
    trace = tmp_path / "ppoll.trace"
    argv = [STRACE, "-e", "trace=ppoll", "-o", str(trace)] + zb_root.argv(
        ["--json", *mode, "--", "sleep", "0.5"])
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert json.loads(p.stdout)["status"] == "exited", p.stderr
    polls = [l for l in trace.read_text().splitlines() if l.startswith("ppoll(")]
    assert 0 < len(polls) < 30, "%d polls: %s" % (len(polls), polls[:5])


def test_session_lookups_fail_fast_and_are_recorded(zb, tmp):
    ses = Sessions(zb, tmp)
    try:
        sid = ses.start()
        r, out = ses.exec_json(sid, "--", "getent", "ahosts", "pypi.org")
        assert out["status"] == "exited" and out["exit_code"] == 2, r
        assert out["wall_ms"] < 2500, out["wall_ms"]
        r = ses.run("stop", sid, "--json")
        assert r.rc == 0, r
        v = lookups(r.json)
        assert [x["target"] for x in v] == ["pypi.org"], r.json["violations"]
        assert r.json["violation_sources"]["dns"] == "observed"
    finally:
        ses.cleanup()


@pytest.mark.parametrize("flags", [["--seccomp", "unconfined"], ["--seccomp-deny", "sendmsg"],
                                   ["--seccomp-allow", "seccomp"]],
                         ids=["unconfined", "sendmsg-denied", "seccomp-allowed"])
def test_resolver_without_a_seccomp_listener(zb, flags):
    # The resolver's socket travels with the seccomp listener; where the
    # command gets no listener it goes alone, before the filter is
    # installed (a profile denying sendmsg must not keep it back).
    r, out = zb.json(*flags, "--", "getent", "hosts", "nolistener.test")
    assert out["status"] == "exited" and out["exit_code"] == 2, r
    assert out["wall_ms"] < 2500, out["wall_ms"]
    assert [x["target"] for x in lookups(out)] == ["nolistener.test"], out["violations"]
    src = out["violation_sources"]
    assert src["dns"] == "observed", src
    assert src["seccomp"].startswith("not observable"), src
