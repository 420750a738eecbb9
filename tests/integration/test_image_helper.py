"""The image helper (issue 15): libarchive is linked only into
build/zonebox-image, which zonebox runs for every import (`image import`,
`run --image oci:...`) and never for a run on an image already in the store.
Its error line reaches the user as it wrote it (one line, exit 125, the
store unchanged). A copy of zonebox in a temp dir finds the helper beside
itself first (util_helper_path), so a fake helper put there is the one run."""

import gzip
import os
import shutil
import subprocess

import pytest

from conftest import RUN_TIMEOUT, ZONEBOX
from test_images import BUSYBOX, busybox_entries, make_layout, store_state, tar_layer

LINE = "image: a line from the helper, passed on as it is"


def zonebox_with_helper(tmp, helper):
    """A copy of zonebox, with HELPER (bytes, or None for none) beside it."""
    d = tmp.mkdir("bin")
    shutil.copy(ZONEBOX, os.path.join(d, "zonebox"))
    if helper is not None:
        with open(os.path.join(d, "zonebox-image"), "wb") as f:
            f.write(helper)
        os.chmod(os.path.join(d, "zonebox-image"), 0o755)
    return os.path.join(d, "zonebox")


def run(zonebox, args, store):
    env = dict(os.environ, ZONEBOX_IMAGE_DIR=store)
    return subprocess.run([zonebox, *args], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)


@pytest.fixture
def store(tmp):
    return os.path.join(tmp.mkdir("store"), "images")


@pytest.fixture
def ref(tmp):
    return make_layout(os.path.join(tmp.mkdir("l"), "img"), [tar_layer([("f", "file", "x")])])


def test_import_and_a_run_on_a_layout_exec_the_helper_and_pass_its_line_on(tmp, store, ref):
    mark = os.path.join(tmp.mkdir("m"), "argv")
    zb = zonebox_with_helper(tmp, ("#!/bin/sh\necho \"$@\" >>%s\necho '%s' >&2\nexit 22\n" % (mark, LINE)).encode())
    p = run(zb, ["image", "import", ref, "--name", "mine"], store)
    assert (p.returncode, p.stdout, p.stderr) == (125, "", "zonebox image import: %s\n" % LINE)
    p = run(zb, ["run", "--image", ref, "--", "/bin/true"], store)
    assert p.returncode == 125 and p.stdout == "", p.stderr
    assert p.stderr.count("\n") == 1 and LINE in p.stderr, p.stderr
    with open(mark) as f:
        assert f.read().splitlines() == ["import %s mine" % ref, "import %s" % ref]
    assert not os.path.exists(os.path.join(store, "images")) or store_state(store) == {}


@pytest.mark.parametrize("helper,words", [
    (b"#!/bin/sh\nkill -9 $$\n", "was killed by signal 9"),
    (b"\x7fELF not really a program", "cannot run the image helper"),
    (b"#!/bin/sh\nexit 3\n", "failed (exit status 3) and said nothing"),
])
def test_a_broken_helper_is_one_clear_line(tmp, store, ref, helper, words):
    zb = zonebox_with_helper(tmp, helper)
    for args in (["image", "import", ref], ["run", "--image", ref, "--", "/bin/true"]):
        p = run(zb, args, store)
        assert p.returncode == 125 and p.stdout == "", (args, p.stderr)
        assert p.stderr.count("\n") == 1 and words in p.stderr and "zonebox-image" in p.stderr, (args, p.stderr)


@pytest.mark.skipif(not BUSYBOX, reason="busybox-static is not installed")
def test_a_run_on_a_stored_image_does_not_exec_the_helper(tmp, store):
    ref = make_layout(os.path.join(tmp.mkdir("l"), "img"), [tar_layer(busybox_entries() + [("m", "file", "kept\n")])])
    p = run(ZONEBOX, ["image", "import", ref, "--name", "bb"], store)  # the real helper
    assert p.returncode == 0 and p.stdout.startswith("bb sha256:"), p.stderr
    mark = os.path.join(tmp.mkdir("m"), "ran")
    zb = zonebox_with_helper(tmp, ("#!/bin/sh\ntouch %s\nexit 1\n" % mark).encode())
    p = run(zb, ["run", "--image", "bb", "--", "/bin/busybox", "cat", "/m"], store)
    assert (p.returncode, p.stdout) == (0, "kept\n"), p.stderr
    assert not os.path.exists(mark)


@pytest.mark.parametrize("kind", ["tar", "tar+gzip", "tar+zstd"])
def test_the_helper_unpacks_each_layer_type(tmp, store, kind):
    # The helper's static link names its codecs by hand (Makefile: IMG_LDLIBS).
    raw = gzip.decompress(tar_layer([("hello", "file", "from a %s layer\n" % kind)]))
    data = {"tar": raw, "tar+gzip": gzip.compress(raw),
            "tar+zstd": subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout}[kind]
    ref = make_layout(os.path.join(tmp.mkdir("l"), "img"), [data],
                      layer_type="application/vnd.oci.image.layer.v1." + kind)
    p = run(ZONEBOX, ["image", "import", ref, "--name", "k"], store)
    assert p.returncode == 0, p.stderr
    (layer,) = os.listdir(os.path.join(store, "layers"))
    with open(os.path.join(store, "layers", layer, "hello")) as f:
        assert f.read() == "from a %s layer\n" % kind
