# shellcheck shell=bash
# Sourced by the benchmarks: what they share.
#   bench_need TOOL:PKG...  install what is missing (apt-get, as root), or say the line
#   BWRAP_FULL              bubblewrap's closest match to zonebox's default isolation
#   psi_field avg10|total   CPU pressure (some), "-" when unknown
#   wait_quiet SECONDS      wait up to SECONDS for CPU pressure avg10 < 5 %
#   sporadic ARGS...        bench/sporadic.py (the sporadic regime)
# The caller sets `set -euo pipefail` and defines say/die.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3 # not the python3 on PATH: Debian's own interpreter

# Every benchmark's tools, by Debian package; `bench_need` with no argument
# installs them all (what `make bench-deps` runs).
BENCH_TOOLS=(hyperfine:hyperfine bwrap:bubblewrap /usr/bin/time:time unshare:util-linux
	xargs:findutils /usr/bin/python3:python3)

bench_need() {
	local pair tool pkg missing=()
	[ $# -gt 0 ] || set -- "${BENCH_TOOLS[@]}"
	for pair in "$@"; do
		tool=${pair%%:*} pkg=${pair#*:}
		if [[ $tool == /* ]]; then [ -x "$tool" ] && continue; else command -v "$tool" >/dev/null && continue; fi
		missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		die "missing packages: ${missing[*]} — run: sudo apt-get install ${missing[*]}"
	fi
	command -v apt-get >/dev/null || die "missing packages: ${missing[*]} (and no apt-get here)"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
}

# bwrap-full: every namespace (user, mount, pid, net with lo up, ipc, uts,
# cgroup), read-only /usr with this host's /bin, /lib... (symlinks or binds),
# fresh /proc, minimal /dev, a tmpfs /tmp, new session, no capabilities, a
# clean environment (bwrap always sets no_new_privs). The acceptance checks
# build the same command.
BWRAP_FULL="bwrap --ro-bind /usr /usr"
for d in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$d" ]; then
		BWRAP_FULL="$BWRAP_FULL --symlink $(readlink "/$d") /$d"
	elif [ -d "/$d" ]; then
		BWRAP_FULL="$BWRAP_FULL --ro-bind /$d /$d"
	fi
done
BWRAP_FULL="$BWRAP_FULL --unshare-all --die-with-parent --new-session --proc /proc --dev /dev --tmpfs /tmp --cap-drop ALL --clearenv"

psi_field() {
	[ -r /proc/pressure/cpu ] || { echo -; return; }
	awk -v f="$1" '/^some/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' /proc/pressure/cpu
}

wait_quiet() {
	local w busy
	[ "$1" -gt 0 ] && [ "$(psi_field avg10)" != - ] || return 0
	for ((w = 0; w < $1; w += 5)); do
		busy=$(psi_field avg10)
		awk -v p="$busy" 'BEGIN { exit !(p < 5) }' && return 0
		[ "$w" -eq 0 ] && say "machine busy (CPU pressure avg10 ${busy}%): waiting up to ${1}s"
		sleep 5
	done
	say "still busy after ${1}s: measuring anyway (see the load in the report)"
}

sporadic() { "$PY" "$BENCH_DIR/sporadic.py" "$@"; }
