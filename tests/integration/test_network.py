"""Network: own namespace with loopback only by default; --network host shares."""

import errno
import json
import socket
import uuid

import pytest

from conftest import accepted_nothing, host_ipv4, tcp_listener

LOOPBACK_SCRIPT = r"""
import json, socket, threading
srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(1)
port = srv.getsockname()[1]
got = []
def serve():
    c, _ = srv.accept()
    data = c.recv(100)
    got.append(data.decode())
    c.sendall(b'pong:' + data)
    c.close()
t = threading.Thread(target=serve)
t.start()
cl = socket.create_connection(('127.0.0.1', port), timeout=5)
cl.sendall(b'ping')
reply = cl.recv(100).decode()
t.join(5)
ifs = sorted(name for _, name in socket.if_nameindex())
print(json.dumps({'reply': reply, 'server_got': got, 'ifs': ifs}))
"""


@pytest.mark.parametrize("net", [[], ["--network", "none"], ["--network", "loopback"]],
                         ids=["default", "none", "loopback"])
def test_loopback_works_inside(zb, tmp, net):
    out = zb.py_json(tmp, LOOPBACK_SCRIPT, *net)
    assert out["reply"] == "pong:ping"
    assert out["server_got"] == ["ping"]
    assert out["ifs"] == ["lo"], out


def test_lo_only_and_up(zb):
    r = zb.run("--", "cat", "/proc/net/dev")
    assert r.rc == 0, r
    ifaces = [line.split(":")[0].strip() for line in r.stdout.splitlines()[2:]]
    assert ifaces == ["lo"], r.stdout
    # lo is up: its flags (SIOCGIFFLAGS) have IFF_UP and IFF_LOOPBACK.
    r = zb.run("--", "python3", "-c",
               "import fcntl, socket, struct; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
               "f = struct.unpack('16sH', fcntl.ioctl(s, 0x8913, struct.pack('16sH', b'lo', 0)))[1]; "
               "print(f & 1, f & 8)")
    assert r.rc == 0, r
    assert r.stdout == "1 8\n", r


def test_host_is_unreachable(zb, tmp):
    ip = host_ipv4()
    lo = tcp_listener("127.0.0.1")
    ext = tcp_listener(ip) if ip else None
    abstract_name = "\0zb-test-" + uuid.uuid4().hex
    ab = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ab.bind(abstract_name)
    ab.listen(4)
    ab.setblocking(False)
    try:
        code = r"""
import json, socket
out = {}
def tcp(name, addr):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(addr)
        out[name] = 'connected'
    except OSError as e:
        out[name] = e.errno
tcp('lo', ('127.0.0.1', %(lo)d))
if %(ip)r:
    tcp('ext', (%(ip)r, %(ext)d))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(%(ab)r)
    out['abstract'] = 'connected'
except OSError as e:
    out['abstract'] = e.errno
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b'x', ('192.0.2.1', 9))
    out['udp'] = 'sent'
except OSError as e:
    out['udp'] = e.errno
print(json.dumps(out))
""" % {"lo": lo.getsockname()[1], "ip": ip, "ext": ext.getsockname()[1] if ext else 0,
       "ab": abstract_name}
        out = zb.py_json(tmp, code)
        assert out["lo"] == errno.ECONNREFUSED, out
        assert out["abstract"] == errno.ECONNREFUSED, out
        assert out["udp"] == errno.ENETUNREACH, out
        if ip:
            assert out["ext"] == errno.ENETUNREACH, out
        assert accepted_nothing(lo)
        assert ext is None or accepted_nothing(ext)
        try:
            c, _ = ab.accept()
            c.close()
            pytest.fail("the host's abstract socket received a connection")
        except BlockingIOError:
            pass
        if not ip:
            pytest.skip("host has no non-loopback IPv4 address; ENETUNREACH to it not tested")
    finally:
        lo.close()
        if ext:
            ext.close()
        ab.close()


def test_network_host_reaches_host_loopback(zb, tmp):
    lo = tcp_listener("127.0.0.1")
    port = lo.getsockname()[1]
    lo.setblocking(True)
    lo.settimeout(10)
    try:
        code = r"""
import json, socket
s = socket.create_connection(('127.0.0.1', %d), timeout=5)
s.sendall(b'hello-from-sandbox')
s.close()
print(json.dumps({'ok': True}))
""" % port
        d = tmp.script_dir(code)
        r, j = zb.json("--network", "host", "-v", d + ":/input:ro", "--",
                       "python3", "/input/test.py")
        assert r.rc == 0, r
        assert json.loads(j["stdout"]) == {"ok": True}, j
        assert "net" in j["layers"]["skipped"]
        assert "net" not in j["layers"]["applied"]
        conn, _ = lo.accept()
        conn.settimeout(5)
        assert conn.recv(100) == b"hello-from-sandbox"
        conn.close()
    finally:
        lo.close()


def test_network_none_reports_net_applied(zb):
    r, j = zb.json("--", "true")
    assert r.rc == 0, r
    assert "net" in j["layers"]["applied"]
    assert "net" not in j["layers"]["skipped"]
