"""make install / uninstall, the man pages, the completions, zonebox.pc and
the library example, checked on a real install into a temp DESTDIR.

`make install` runs against the build dir of $ZONEBOX (build/, or build-asan/
etc. under the gates, with the matching make variable), so nothing is
rebuilt: the files installed are those the other tests test.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import AS_NOBODY, NOBODY, ZONEBOX

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.basename(os.path.dirname(ZONEBOX))
# The make variable that selects each build dir (Makefile).
VARIANT = {"build": [], "build-asan": ["SANITIZE=1"], "build-vg": ["VALGRIND=1"],
           "build-cov": ["COVERAGE=1"]}.get(BUILD)
pytestmark = pytest.mark.skipif(
    VARIANT is None or os.path.dirname(os.path.dirname(ZONEBOX)) != TOP,
    reason="skipped: $ZONEBOX is not a build dir of this tree, so make install would build another binary")

COMMANDS = ["run", "session", "check", "doctor", "export", "diff", "commit", "discard", "image", "gc", "mcp", "serve", "version"]


def make(*args, user=None, env=None):
    argv = ["make", "--no-print-directory", "-s", "-C", TOP] + VARIANT + list(args)
    if user == "nobody":
        argv = AS_NOBODY + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, "%s: %s%s" % (" ".join(args), p.stdout, p.stderr)
    return p


def files_under(root):
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


@pytest.fixture(scope="module")
def dest():
    """One install with PREFIX=/usr into a temp DESTDIR, shared by the checks."""
    d = tempfile.mkdtemp(prefix="zb-install-")
    os.chmod(d, 0o755)
    make("install", "DESTDIR=" + d, "PREFIX=/usr")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def expected_files(prefix="usr"):
    man1 = ["%s/share/man/man1/zonebox.1" % prefix] + \
           ["%s/share/man/man1/zonebox-%s.1" % (prefix, c) for c in COMMANDS]
    docs = ["%s/share/doc/zonebox/README.md" % prefix] + \
           ["%s/share/doc/zonebox/docs/%s" % (prefix, f) for f in os.listdir(os.path.join(TOP, "docs"))
            if f.endswith(".md")]
    examples = ["%s/share/doc/zonebox/examples/%s" % (prefix, f)
                for f in os.listdir(os.path.join(TOP, "examples"))]
    return set(man1 + docs + examples + [
        "%s/bin/zonebox" % prefix, "%s/libexec/zonebox/zonebox-systemd" % prefix,
        "%s/libexec/zonebox/zonebox-serve" % prefix, "%s/libexec/zonebox/zonebox-image" % prefix,
        "%s/lib/libzonebox.a" % prefix, "%s/include/zonebox.h" % prefix,
        "%s/lib/pkgconfig/zonebox.pc" % prefix, "%s/share/man/man5/zonebox.yaml.5" % prefix,
        "%s/share/bash-completion/completions/zonebox" % prefix,
        "%s/share/zsh/site-functions/_zonebox" % prefix])


def test_install_puts_exactly_these_files(dest):
    assert files_under(dest) == expected_files()
    binary = os.path.join(dest, "usr/bin/zonebox")
    assert os.stat(binary).st_mode & 0o777 == 0o755
    with open(os.path.join(TOP, "include/zonebox.h")) as a, open(os.path.join(dest, "usr/include/zonebox.h")) as b:
        assert a.read() == b.read()
    r = subprocess.run([binary, "run", "--", "sh", "-c", "echo installed"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stdout == "installed\n", r.stderr


def test_install_honours_each_dir_variable():
    d = tempfile.mkdtemp(prefix="zb-install-dirs-")
    try:
        make("install", "DESTDIR=" + d, "PREFIX=/opt/zb", "BINDIR=/b", "LIBDIR=/l", "INCLUDEDIR=/i",
             "MANDIR=/m", "DATADIR=/s")
        got = files_under(d)
        want = {p.replace("opt/zb/bin", "b").replace("opt/zb/lib/", "l/").replace("opt/zb/include", "i")
                 .replace("opt/zb/share/man", "m").replace("opt/zb/share", "s")
                for p in expected_files("opt/zb")}
        assert got == want
        with open(os.path.join(d, "l/pkgconfig/zonebox.pc")) as f:
            pc = f.read()
        assert "libdir=/l\n" in pc and "includedir=/i\n" in pc and "prefix=/opt/zb\n" in pc
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_install_as_an_ordinary_user_with_destdir(dest):
    """The tree was built by root; nobody installs it into its own DESTDIR."""
    d = tempfile.mkdtemp(prefix="zb-install-nobody-")
    try:
        os.chown(d, NOBODY, NOBODY)
        make("install", "DESTDIR=" + d, "PREFIX=/usr", user="nobody")
        assert files_under(d) == files_under(dest)
        for f in files_under(d):
            assert os.stat(os.path.join(d, f)).st_uid == NOBODY
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_uninstall_leaves_what_was_there_before():
    d = tempfile.mkdtemp(prefix="zb-uninstall-")
    try:
        # Someone else's files in the same dirs stay.
        for p in ["usr/bin/other", "usr/share/man/man1/other.1", "usr/share/doc/other/README"]:
            os.makedirs(os.path.dirname(os.path.join(d, p)), exist_ok=True)
            open(os.path.join(d, p), "w").close()
        before = files_under(d)
        make("install", "DESTDIR=" + d, "PREFIX=/usr")
        assert files_under(d) == before | expected_files()
        make("uninstall", "DESTDIR=" + d, "PREFIX=/usr")
        assert files_under(d) == before
        assert not os.path.exists(os.path.join(d, "usr/share/doc/zonebox"))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- library

def pkg_config(dest, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(dest, "usr/lib/pkgconfig"),
               PKG_CONFIG_SYSROOT_DIR=dest)
    p = subprocess.run(["pkg-config"] + list(args) + ["zonebox"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_pkg_config_lists_the_private_dependencies(dest):
    assert pkg_config(dest, "--modversion") == [re.search(r'ZB_VERSION "([^"]+)"', open(
        os.path.join(TOP, "include/zonebox.h")).read()).group(1)]
    libs = pkg_config(dest, "--libs", "--static")
    for lib in ["-lzonebox", "-lseccomp", "-lyaml", "-ljson-c"]:
        assert lib in libs
    assert "-L%s/usr/lib" % dest in libs
    # (Requires.private adds json-c's include dir too: pkg-config's rule.)
    assert pkg_config(dest, "--cflags")[0] == "-I%s/usr/include" % dest


@pytest.mark.skipif(BUILD != "build", reason="skipped: embed.c links the release library "
                    "(the %s one needs its compiler flags and runtime)" % BUILD)
def test_embed_example_builds_against_the_installed_library_and_runs(dest, tmp):
    out = os.path.join(tmp.mkdir("embed"), "embed")
    src = os.path.join(dest, "usr/share/doc/zonebox/examples/embed.c")
    p = subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-o", out, src] + pkg_config(dest, "--cflags") +
                       pkg_config(dest, "--libs", "--static"), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    r = subprocess.run([out], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    first, js = r.stdout.split("\n", 1)
    assert first == "status exited, exit code 0"
    res = json.loads(js)
    assert res["stdout"] == "hello from the sandbox\n" and "seccomp" in res["layers"]["applied"]
    # Its verdict is the command's: a real sandbox, not a canned answer.
    r = subprocess.run([out, "sh", "-c", "test -w /etc/passwd || exit 3"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 3 and r.stdout.startswith("status exited, exit code 3\n")


# ---------------------------------------------------------------- man pages

def render(page, width="80"):
    env = dict(os.environ, MANWIDTH=width)
    env.pop("MAN_KEEP_FORMATTING", None)  # not a terminal: plain text
    p = subprocess.run(["man", "-l", page], capture_output=True, text=True, env=env, timeout=60)
    return p


def test_man_pages_one_per_command_and_render_without_warnings(dest):
    man1 = os.path.join(dest, "usr/share/man/man1")
    listed = re.findall(r"^  ([a-z]+)\b", subprocess.run([ZONEBOX, "--help"], capture_output=True,
                                                            text=True).stdout, re.M)
    assert sorted(os.listdir(man1)) == sorted(["zonebox.1"] + ["zonebox-%s.1" % c for c in listed if c != "help"])
    pages = [os.path.join(man1, f) for f in os.listdir(man1)] + \
            [os.path.join(dest, "usr/share/man/man5/zonebox.yaml.5")]
    for page in pages:
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], capture_output=True, text=True)
        assert p.returncode == 0 and p.stderr == "", "%s: %s" % (page, p.stderr)
        r = render(page)
        assert r.returncode == 0 and r.stderr == "", "%s: %s" % (page, r.stderr)
        assert "???" not in r.stdout, "%s: a character lost on the way" % page
        name = os.path.basename(page).rsplit(".", 1)[0]
        assert re.search(r"^NAME\n\s+%s - \S" % re.escape(name), r.stdout, re.M), r.stdout[:300]
        lint = subprocess.run(["mandoc", "-Tlint", "-Wwarning", page], capture_output=True, text=True)
        assert lint.stdout + lint.stderr == "", lint.stdout + lint.stderr
        # What apropos and whatis will index (man-db's parser of NAME).
        lex = subprocess.run(["lexgrog", page], capture_output=True, text=True)
        assert lex.returncode == 0 and ': "%s - ' % name in lex.stdout, lex.stdout + lex.stderr


def flags_of(text):
    return set(re.findall(r"(?:^|[\s,\[])(--[a-z][a-z0-9-]+)", text))


def test_man_pages_say_what_help_says(dest):
    """Generated from --help: every flag a command's --help names is in its page."""
    for cmd in COMMANDS:
        helptext = subprocess.run([ZONEBOX, cmd, "--help"], capture_output=True, text=True).stdout
        page = render(os.path.join(dest, "usr/share/man/man1/zonebox-%s.1" % cmd), width="200").stdout
        missing = flags_of(helptext) - flags_of(page.replace("\u2010", "-"))
        assert helptext and not missing, "zonebox-%s.1 lacks %s" % (cmd, missing)


def test_config_page_has_every_key_of_docs_config(dest):
    with open(os.path.join(TOP, "docs/config.md")) as f:
        keys = re.findall(r"^\| `([a-z_.]+)` \|", f.read(), re.M)
    assert len(keys) > 30
    page = render(os.path.join(dest, "usr/share/man/man5/zonebox.yaml.5"), width="200").stdout
    tags = set(re.findall(r"^       (\S+)", page, re.M))
    assert not [k for k in keys if k not in tags]


# ---------------------------------------------------------------- completions

BASH_DRIVER = r"""
. "$1"
complete -p zonebox
c() { COMP_LINE=$1; COMP_POINT=${#1}; COMPREPLY=(); _zonebox; echo "${COMPREPLY[*]}"; }
c "$ZB "
c "$ZB se"
c "$ZB run --netw"
c "$ZB run --network "
c "$ZB run -v /tmp:/input:"
c "$ZB run --cow-action d"
c "$ZB session "
c "$ZB session stop "
c "$ZB session start --idle"
c "$ZB export k"
c "$ZB diff --l"
c "$ZB run -- zoneb"
c "$ZB image "
c "$ZB image i"
c "$ZB image rm "
"""


def test_bash_completion(dest, tmp):
    sess = "compl-%d" % os.getpid()
    r = subprocess.run([ZONEBOX, "session", "start", "--name", sess, "--tmpfs", "/scratch"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    try:
        bindir = os.path.join(dest, "usr/bin")
        env = dict(os.environ, ZB=os.path.join(bindir, "zonebox"), PATH=bindir + ":" + os.environ["PATH"],
                   ZONEBOX_IMAGE_DIR=tmp.mkdir("images"))  # an empty store: `image rm <TAB>` offers nothing
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "driver",
                            os.path.join(dest, "usr/share/bash-completion/completions/zonebox")],
                           capture_output=True, text=True, env=env, timeout=60)
    finally:
        subprocess.run([ZONEBOX, "session", "stop", sid], capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    lines = p.stdout.split("\n")
    assert lines[0] == "complete -F _zonebox zonebox"
    assert lines[1].split() == ["run", "session", "check", "doctor", "export", "diff", "commit", "discard",
                                "image", "gc", "mcp", "serve", "version", "help"]
    assert lines[2:12] == ["session serve", "--network", "none loopback host", "ro rw cow", "discard",
                           "start exec list stop", "%s %s" % (sess, sid), "--idle-timeout", "kubernetes",
                           "--list"]
    assert "zonebox" in lines[12].split()
    assert lines[13:16] == ["import list inspect rm prune", "import inspect", ""]


ZSH_DRIVER = r"""
# The completion system's builtins as stubs that print what would be offered.
compadd() { while [[ $1 == -* && $1 != -- ]]; do shift; done; [[ $1 == -- ]] && shift; print -r -- "$@"; }
compset() { :; }
_describe() { print -r -- ${(P)2%%:*}; }
_files() { print -r -- "<files $*>"; }
_command_names() { print -r -- "<commands>"; }
fpath=("$1" $fpath); autoload -Uz _zonebox
for l in "$ZB " "$ZB run --network " "$ZB run -v /tmp:/in:" "$ZB session " "$ZB run -- " "$ZB run --net" "$ZB image "; do
  words=(${(z)l}); [[ $l == *' ' ]] && words+=(''); CURRENT=${#words}; _zonebox | tr '\n' ' '; print
done
"""


@pytest.mark.skipif(not shutil.which("zsh"), reason="skipped: zsh is not installed (scripts/install-deps adds it)")
def test_zsh_completion(dest):
    env = dict(os.environ, ZB=os.path.join(dest, "usr/bin/zonebox"))
    p = subprocess.run(["zsh", "-f", "-c", ZSH_DRIVER, "driver", os.path.join(dest, "usr/share/zsh/site-functions")],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    lines = [l.strip() for l in p.stdout.split("\n")]
    assert lines[0].split() == ["run", "session", "check", "doctor", "export", "diff", "commit", "discard",
                                "image", "gc", "mcp", "serve", "version", "help"]
    assert lines[1:5] == ["none loopback host", "ro rw cow", "start exec list stop", "<commands>"]
    assert "--net-allow" in lines[5].split() and "--network" in lines[5].split()
    assert lines[6] == "import list inspect rm prune"


# ---------------------------------------------------------------- version

def test_version_json_names_what_was_built():
    v = json.loads(subprocess.run([ZONEBOX, "version", "--json"], capture_output=True, text=True).stdout)
    h = open(os.path.join(TOP, "include/zonebox.h")).read()
    assert v["version"] == re.search(r'ZB_VERSION "([^"]+)"', h).group(1)
    # The libraries' own idea of their version: the -dev packages built against.
    for name, pc in [("libseccomp", "libseccomp"), ("libyaml", "yaml-0.1"), ("json-c", "json-c")]:
        want = subprocess.run(["pkg-config", "--modversion", pc], capture_output=True, text=True).stdout.strip()
        assert v["libraries"][name] == want
    assert v["kernel"]["running"] == os.uname().release
    assert v["build"]["variant"] == {"build": "release", "build-asan": "asan", "build-vg": "valgrind",
                                     "build-cov": "coverage"}[BUILD]
    git = subprocess.run(["git", "-C", TOP, "rev-parse", "HEAD"], capture_output=True, text=True)
    if git.returncode == 0:
        built = re.sub(r"-dirty$", "", v["commit"]).rsplit("-g", 1)[-1]
        assert git.stdout.startswith(built)
    plain = subprocess.run([ZONEBOX, "version"], capture_output=True, text=True).stdout
    assert plain == "zonebox %s (%s)\n" % (v["version"], v["commit"])
    bad = subprocess.run([ZONEBOX, "version", "--jsn"], capture_output=True, text=True)
    assert bad.returncode == 125 and "--jsn" in bad.stderr and bad.stdout == ""
