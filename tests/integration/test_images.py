"""Images (issue 17): zonebox image import|list|inspect|rm|prune and --image
on the namespace backend. Layouts are made here: the busybox image with
umoci (as the acceptance check does), and hand-made OCI layouts (Python's
tarfile, hashlib) for whiteouts and every kind of bad input. Each test has
its own store (ZONEBOX_IMAGE_DIR)."""

import ast
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

import pytest

from conftest import AS_NOBODY, RUN_TIMEOUT, ZONEBOX

BUSYBOX = shutil.which("busybox")
UMOCI = shutil.which("umoci")


def zbi(args, store, nobody=False, check=False):
    env = dict(os.environ, ZONEBOX_IMAGE_DIR=store)
    cmd = ([*AS_NOBODY] if nobody else []) + [ZONEBOX, *args]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def store_state(store):
    """Every path of the store (but its lock) with its size: what must not change."""
    out = {}
    for root, dirs, files in os.walk(store):
        for n in dirs + files:
            p = os.path.join(root, n)
            if n == "lock":
                continue
            out[os.path.relpath(p, store)] = os.lstat(p).st_size if not os.path.isdir(p) else -1
    return out


# ------------------------------------------------------------ layouts

def blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}


def tar_layer(entries):
    """ENTRIES: (name, kind, payload): kind file|dir|symlink|fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, kind, payload in entries:
            ti = tarfile.TarInfo(name)
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, payload
                t.addfile(ti)
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
                t.addfile(ti)
            else:
                data = payload if isinstance(payload, bytes) else payload.encode()
                ti.size, ti.mode = len(data), 0o755 if name.endswith("busybox") else 0o4755 if "suid" in name else 0o644
                t.addfile(ti, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def diff_id(data):
    """The sha256 of the uncompressed layer (skopeo checks them)."""
    try:
        data = gzip.decompress(data)
    except OSError:
        pass
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layout(path, layers, config=None, layer_type="application/vnd.oci.image.layer.v1.tar+gzip",
                tamper=None):
    """An OCI layout at PATH, tag t; TAMPER(layout, layer_descs) may break it."""
    os.makedirs(path)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs = []
    for data in layers:
        d = blob(path, data)
        d["mediaType"] = layer_type
        descs.append(d)
    cfg = {"architecture": "amd64", "os": "linux", "config": config or {},
           "rootfs": {"type": "layers", "diff_ids": [diff_id(d) for d in layers]}}
    c = blob(path, json.dumps(cfg).encode())
    c["mediaType"] = "application/vnd.oci.image.config.v1+json"
    if tamper:
        tamper(path, descs)
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": c, "layers": descs}
    m = blob(path, json.dumps(man).encode())
    m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    m["annotations"] = {"org.opencontainers.image.ref.name": "t"}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [m]}, f)
    subprocess.run(["chmod", "-R", "a+rX", path], check=True)
    return "oci:%s:t" % path


def busybox_entries():
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    return [("bin", "dir", None), ("bin/busybox", "file", bb), ("bin/sh", "symlink", "busybox")]


needs_busybox = pytest.mark.skipif(not BUSYBOX, reason="busybox-static is not installed")


@pytest.fixture
def store(tmp):
    d = tmp.mkdir("store")
    return os.path.join(d, "images")


@pytest.fixture
def nobody_store(tmp):
    d = tmp.mkdir("store", owner=65534)
    return os.path.join(d, "images")


# ------------------------------------------------------------ runs

@pytest.mark.skipif(not (UMOCI and BUSYBOX), reason="umoci or busybox-static is not installed")
def test_umoci_busybox_image_is_the_root(tmp, store):
    t = tmp.mkdir("umoci")
    script = """set -e
umoci init --layout img; umoci new --image img:t; umoci unpack --image img:t bundle
mkdir -p bundle/rootfs/bin; cp {bb} bundle/rootfs/bin/busybox; ln -s busybox bundle/rootfs/bin/sh
echo zb-image-marker > bundle/rootfs/zb-marker; umoci repack --image img:t bundle""".format(bb=BUSYBOX)
    subprocess.run(["sh", "-c", script], cwd=t, check=True, capture_output=True)
    p = zbi(["run", "--image", "oci:%s/img:t" % t, "--", "/bin/busybox", "cat", "/zb-marker"], store)
    assert (p.returncode, p.stdout) == (0, "zb-image-marker\n"), p.stderr
    p = zbi(["run", "--image", "oci:%s/img:t" % t, "--", "/bin/busybox", "ls", "/usr"], store)
    assert p.returncode == 1 and "No such file" in p.stderr  # the host's /usr is not there
    listed = json.loads(zbi(["image", "list"], store, check=True).stdout)
    assert [i["name"] for i in listed] == ["img:t"]


@needs_busybox
def test_whiteouts_opaque_dirs_and_config_defaults(tmp, store):
    lower = tar_layer(busybox_entries() + [("a", "dir", None), ("a/gone", "file", "x"), ("a/kept", "file", "k"),
                                           ("o", "dir", None), ("o/old", "file", "old"), ("b", "file", "b"),
                                           ("suid-tool", "file", "#!/bin/sh\n")])
    upper = tar_layer([("a/.wh.gone", "file", ""), (".wh.b", "file", ""), ("o", "dir", None),
                       ("o/.wh..wh..opq", "file", ""), ("o/new", "file", "new")])
    ref = make_layout(os.path.join(tmp.mkdir("l"), "img"), [lower, upper],
                      config={"Env": ["GREETING=from-image", "PATH=/bin"], "WorkingDir": "/a",
                              "Cmd": ["/bin/busybox", "sh", "-c", "echo $GREETING; pwd; ls /a; ls /o; ls /b || true"]})
    p = zbi(["run", "--image", ref], store)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["from-image", "/a", "kept", "new"], p.stdout
    # a policy's own command, env and workdir win over the image's
    p = zbi(["run", "--image", ref, "-e", "GREETING=mine", "--", "/bin/busybox", "sh", "-c",
            "echo $GREETING; stat -c %a /suid-tool"], store)
    assert p.stdout.split() == ["mine", "755"], p.stderr  # setuid bit dropped at import


@needs_busybox
def test_unprivileged_user_has_its_own_store(tmp, nobody_store):
    ref = make_layout(os.path.join(tmp.mkdir("l"), "img"),
                      [tar_layer(busybox_entries() + [("m", "file", "nobody-run\n")])])
    p = zbi(["run", "--allow-unenforced", "--image", ref, "--", "/bin/busybox", "cat", "/m"], nobody_store, nobody=True)
    assert (p.returncode, p.stdout) == (0, "nobody-run\n"), p.stderr
    layers = os.listdir(os.path.join(nobody_store, "layers"))
    assert len(layers) == 1 and os.stat(os.path.join(nobody_store, "layers", layers[0])).st_uid == 65534


@needs_busybox
def test_layers_are_shared_and_prune_removes_unreferenced(tmp, store):
    base = tar_layer(busybox_entries())
    d = tmp.mkdir("l")
    ref1 = make_layout(os.path.join(d, "one"), [base, tar_layer([("one", "file", "1")])])
    ref2 = make_layout(os.path.join(d, "two"), [base, tar_layer([("two", "file", "2")])])
    zbi(["image", "import", ref1, "--name", "one"], store, check=True)
    zbi(["image", "import", ref2, "--name", "two"], store, check=True)
    assert len(os.listdir(os.path.join(store, "layers"))) == 3  # the base once
    zbi(["image", "rm", "one"], store, check=True)
    assert "removed 1 " in zbi(["image", "prune"], store, check=True).stdout
    p = zbi(["run", "--image", "two", "--", "/bin/busybox", "cat", "/two"], store)
    assert (p.returncode, p.stdout) == (0, "2"), p.stderr
    assert zbi(["image", "inspect", "one"], store).returncode == 125


# ------------------------------------------------------------ bad input

def test_image_on_the_namespace_backend_never_runs_on_host_dirs(store):
    # before issue 17 this printed hi and exited 0
    p = zbi(["run", "--image", "oci:/nonexistent:t", "--", "/bin/busybox", "echo", "hi"], store)
    assert p.returncode == 125 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "image" in p.stderr


def test_unknown_name_is_an_error(store):
    p = zbi(["run", "--image", "nosuch", "--", "/bin/true"], store)
    assert p.returncode == 125 and "not in the image store" in p.stderr and p.stderr.count("\n") == 1


def _digest_mismatch(layout, descs):
    with open(os.path.join(layout, "blobs", "sha256", descs[0]["digest"][7:]), "ab") as f:
        f.write(b"tampered")


def _corrupt(layout, descs):
    p = os.path.join(layout, "blobs", "sha256", descs[0]["digest"][7:])
    data = gzip.compress(b"\x00garbage, not a tar" * 100)
    os.unlink(p)
    new = blob(layout, data)
    descs[0].update(new)


BAD = {
    "dotdot": dict(layers=[[("../x", "file", "escape")]], msg="'..'"),
    "absolute": dict(layers=[[("/abs", "file", "escape")]], msg="absolute"),
    "symlink-then-file": dict(layers=[[("link", "symlink", "/tmp"), ("link/evil", "file", "escape")]],
                              msg="symlink"),
    "digest-mismatch": dict(layers=[[("f", "file", "x")]], tamper=_digest_mismatch, msg="digest mismatch"),
    "corrupt-layer": dict(layers=[[("f", "file", "x")]], tamper=_corrupt, msg="layer"),
    "media-type": dict(layers=[[("f", "file", "x")]], layer_type="application/vnd.oci.image.layer.v1.tar+foo",
                       msg="unsupported media type"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_image_is_refused_and_the_store_unchanged(tmp, store, case):
    good = make_layout(os.path.join(tmp.mkdir("g"), "img"), [tar_layer([("g", "file", "good")])])
    zbi(["image", "import", good, "--name", "good"], store, check=True)
    before = store_state(store)
    c = BAD[case]
    ref = make_layout(os.path.join(tmp.mkdir("b"), "img"), [tar_layer(l) for l in c["layers"]],
                      layer_type=c.get("layer_type", "application/vnd.oci.image.layer.v1.tar+gzip"),
                      tamper=c.get("tamper"))
    for args in (["image", "import", ref], ["run", "--image", ref, "--", "/bin/true"]):
        p = zbi(args, store)
        assert p.returncode == 125, (args, p.stdout, p.stderr)
        assert p.stderr.count("\n") == 1 and c["msg"] in p.stderr, p.stderr
        assert store_state(store) == before
    assert not os.path.exists("/tmp/evil") and not os.path.exists(os.path.join(os.path.dirname(store), "x"))


@needs_busybox
def test_a_symlink_in_a_lower_layer_is_never_followed(tmp, store):
    # Each layer is unpacked on its own: the upper layer's link/ is a
    # directory of its own, which overlayfs shows in place of the link.
    ref = make_layout(os.path.join(tmp.mkdir("l"), "img"),
                      [tar_layer(busybox_entries() + [("link", "symlink", "/tmp")]),
                       tar_layer([("link/evil-zb-image", "file", "inside")])])
    p = zbi(["run", "--image", ref, "--", "/bin/busybox", "cat", "/link/evil-zb-image"], store)
    assert (p.returncode, p.stdout) == (0, "inside"), p.stderr
    assert not os.path.exists("/tmp/evil-zb-image")


def test_fifo_and_devices_are_not_made(tmp, store):
    ref = make_layout(os.path.join(tmp.mkdir("l"), "img"), [tar_layer([("p", "fifo", None), ("f", "file", "x")])])
    zbi(["image", "import", ref, "--name", "fifo"], store, check=True)
    (layer,) = os.listdir(os.path.join(store, "layers"))
    assert sorted(os.listdir(os.path.join(store, "layers", layer))) == ["f"]


ENGINES = [("oci", "runc"), ("oci", "runsc"), ("docker", "runc")]


@needs_busybox
@pytest.mark.parametrize("backend,runtime", ENGINES, ids=["runc", "runsc", "podman"])
def test_engines_run_the_same_image(tmp, store, backend, runtime):
    tool = "podman" if backend == "docker" else runtime
    if not shutil.which(tool) or (backend == "docker" and not shutil.which("skopeo")):
        pytest.skip("%s is not installed (scripts/install-deps installs it)" % tool)
    ref = make_layout(os.path.join(tmp.mkdir("l"), "img"),
                      [tar_layer(busybox_entries() + [("m", "file", "engine-run\n"), ("gone", "file", "x")]),
                       tar_layer([(".wh.gone", "file", "")])])
    args = ["run", "--backend", backend, "--runtime", runtime, "--image", ref]
    if backend == "docker":
        args += ["--engine-cli", "podman"]
    p = zbi(args + ["--", "/bin/busybox", "sh", "-c", "cat /m; ls /gone /usr 2>&1 | wc -l"], store)
    if backend == "docker":  # the copy zonebox made in podman's storage
        subprocess.run(["podman", "rmi", "-f", "localhost/zonebox/img:t"], capture_output=True)
    assert p.returncode == 0 and p.stdout.split() == ["engine-run", "2"], (p.stdout, p.stderr)
    if backend == "oci":  # the overlay lived in zonebox's own mount namespace: no mount, no bundle left
        with open("/proc/self/mountinfo") as f:
            assert "rootfs.image" not in f.read()
        assert not [d for d in os.listdir("/tmp") if d.startswith("zonebox-oci-") and
                    os.path.exists(os.path.join("/tmp", d, "rootfs.image"))]


# ------------------------------------------------------------ the Debian image

BUILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "images", "build.sh")

SECURITY = r"""
import errno, os, socket
out = {}
for name, addr in (('host_lo', ('127.0.0.1', PORT)), ('internet', ('8.8.8.8', 53))):
    s = socket.socket(); s.settimeout(5)
    try:
        s.connect(addr); out[name] = 'connected'
    except OSError as e:
        out[name] = e.errno
for path in ('/test.txt', '/etc/test.txt', '/usr/test.txt'):
    try:
        open(path, 'w').close(); out[path] = 'written'
    except OSError as e:
        out[path] = e.errno
try:
    os.setuid(0); out['setuid'] = 'ok'
except OSError as e:
    out['setuid'] = e.errno
for line in open('/proc/self/status'):
    k, _, v = line.partition(':')
    if k in ('CapEff', 'NoNewPrivs'):
        out[k] = v.strip()
out['debian'] = open('/etc/debian_version').read().strip()
print(repr(out))
"""

# python3-minimal: no json module; repr() and ast.literal_eval instead.
PROGRAM = "import hashlib; print(repr({'sum': sum(range(1000)), 'h': hashlib.sha256(b'zb').hexdigest()[:8]}))"
PIPELINE = "seq 1 100 | sort -rn | head -3 | tr '\\n' ' '; grep -c . /etc/os-release >/dev/null && echo ok"

BACKENDS = [("namespace", None, False), ("namespace", None, True), ("oci", "runc", False), ("oci", "runsc", False),
            ("docker", "runc", False)]


@pytest.fixture(scope="session")
def debian_image():
    """Built once (minutes) and cached between runs by tests/images/build.sh."""
    p = subprocess.run(["sh", BUILD_SCRIPT], capture_output=True, text=True, timeout=1800)
    if p.returncode == 2:
        pytest.skip("the Debian test image cannot be built here: " + p.stderr.strip())
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@pytest.fixture(scope="session")
def debian_stores(base_dir):
    root = os.path.join(base_dir, "debian-root")
    nobody = os.path.join(base_dir, "debian-nobody")
    os.makedirs(nobody)
    os.chown(nobody, 65534, 65534)
    return {False: os.path.join(root, "images"), True: os.path.join(nobody, "images")}


@pytest.mark.parametrize("backend,runtime,nobody", BACKENDS,
                         ids=["namespace", "namespace-nobody", "runc", "runsc", "podman"])
def test_debian_image_security_python_and_pipeline(debian_image, debian_stores, backend, runtime, nobody):
    tool = {"oci": runtime, "docker": "podman"}.get(backend)
    if tool and not shutil.which(tool):
        pytest.skip("%s is not installed (scripts/install-deps installs it)" % tool)
    args = ["run", "--image", debian_image, "--backend", backend]
    if runtime:
        args += ["--runtime", runtime]
    if backend == "docker":
        args += ["--engine-cli", "podman"]
    if nobody:
        args += ["--allow-unenforced"]
    store = debian_stores[nobody]
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        p = zbi(args + ["--", "python3", "-c", SECURITY.replace("PORT", str(listener.getsockname()[1]))],
                store, nobody=nobody)
    finally:
        listener.close()
    assert p.returncode == 0, p.stderr
    out = ast.literal_eval(p.stdout)
    assert out["debian"].startswith("12"), out
    # gVisor's own network stack and VFS answer EHOSTUNREACH and EACCES
    # where Linux says ENETUNREACH and EROFS: blocked either way.
    gvisor = runtime == "runsc"
    assert out["host_lo"] == 111 and out["internet"] in ((101, 113) if gvisor else (101,)), out
    for path in ("/test.txt", "/etc/test.txt", "/usr/test.txt"):
        assert out[path] in ((30, 13) if gvisor else (30,)), out  # EROFS
    # gVisor's /proc/self/status has no NoNewPrivs line.
    assert out["setuid"] in (1, 22) and int(out["CapEff"], 16) == 0, out
    assert out.get("NoNewPrivs", "1" if gvisor else None) == "1", out
    p = zbi(args + ["--", "python3", "-c", PROGRAM], store, nobody=nobody)
    assert ast.literal_eval(p.stdout) == {"sum": 499500, "h": hashlib.sha256(b"zb").hexdigest()[:8]}, p.stderr
    p = zbi(args + ["--", "sh", "-c", PIPELINE], store, nobody=nobody)
    if backend == "docker":  # the copy zonebox made in podman's storage
        subprocess.run(["podman", "rmi", "-f", "localhost/zonebox/img:bookworm"], capture_output=True)
    assert p.stdout == "100 99 98 ok\n", p.stderr


# ------------------------------------------------------------ archives, concurrency

@needs_busybox
def test_docker_archive_is_imported_through_skopeo(tmp, store):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed (scripts/install-deps installs it)")
    d = tmp.mkdir("a")
    ref = make_layout(os.path.join(d, "img"), [tar_layer(busybox_entries() + [("a", "file", "from-archive")])])
    archive = os.path.join(d, "saved.tar")
    subprocess.run(["skopeo", "copy", "--quiet", ref, "docker-archive:%s:saved:latest" % archive], check=True)
    os.chmod(archive, 0o644)
    p = zbi(["run", "--image", "docker-archive:" + archive, "--", "/bin/busybox", "cat", "/a"], store)
    assert (p.returncode, p.stdout) == (0, "from-archive"), p.stderr
    assert [i["name"] for i in json.loads(zbi(["image", "list"], store, check=True).stdout)] == ["saved"]
    assert os.listdir(os.path.join(store, "tmp")) == []  # the converted layout is gone
    p = zbi(["image", "import", "docker-archive:" + os.path.join(d, "missing.tar")], store)
    assert p.returncode == 125 and p.stderr.count("\n") == 1


@needs_busybox
def test_concurrent_imports_of_one_image(tmp, store):
    ref = make_layout(os.path.join(tmp.mkdir("c"), "img"),
                      [tar_layer(busybox_entries()), tar_layer([("c", "file", "c")])])
    env = dict(os.environ, ZONEBOX_IMAGE_DIR=store)
    procs = [subprocess.Popen([ZONEBOX, "image", "import", ref, "--name", "same"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=RUN_TIMEOUT) + (p.returncode,) for p in procs]
    assert all(rc == 0 for _, _, rc in results), results
    assert len(os.listdir(os.path.join(store, "layers"))) == 2
    assert os.listdir(os.path.join(store, "tmp")) == []
    p = zbi(["run", "--image", "same", "--", "/bin/busybox", "cat", "/c"], store)
    assert (p.returncode, p.stdout) == (0, "c"), p.stderr
