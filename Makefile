# zonebox — GNU make + pkg-config. `make` builds build/zonebox and
# build/libzonebox.a; `make check` runs every test, `make check CI=1` also
# every quality gate (scripts/gates: warnings, hardening, static analysis,
# ASan/UBSan, valgrind, fuzzing, coverage); `make deps` installs what a fresh
# Debian 12 lacks.
#
# Each build variant has its own directory, so objects never mix:
#   make               build/       release: static-pie, -O2, hardened
#   make SANITIZE=1    build-asan/  ASan+UBSan, dynamic PIE (the runtimes need ld.so)
#   make VALGRIND=1    build-vg/    release flags, dynamic PIE (memcheck cannot
#                                   replace malloc in a static binary)
#   make COVERAGE=1    build-cov/   gcc --coverage -O0
#   make fuzz          build-fuzz/  clang libFuzzer targets with ASan+UBSan
# WERROR=1 turns warnings into errors (CI does).

.DEFAULT_GOAL := all
PKGS      := libseccomp yaml-0.1 json-c libcrypto
# libarchive (layer unpacking) is linked only into the helper
# build/zonebox-image, which src/image/spawn.c runs for an import. Like
# zonebox it is static-pie where zonebox is (it starts on every `run
# --image oci:DIR`: 3.6 ms of CPU against 23 ms with libarchive.so's
# libxml2, ICU and libstdc++, bench/README.md), else dynamic. Statically
# only the tar reader and the gzip and zstd filters are used, so zlib and
# libzstd are all it needs of the codecs pkg-config --static would list.
IMG_PKGS  := libarchive json-c libcrypto
IMG_LDLIBS = $(if $(findstring -static-pie,$(ZB_LDFLAGS)), \
               -larchive -lzstd -lz $(shell pkg-config --static --libs json-c libcrypto 2>/dev/null), \
               $(shell pkg-config --libs $(IMG_PKGS) 2>/dev/null))
# libsystemd (sd-bus) has no static library on Debian: only the small helper
# build/zonebox-systemd links it, dynamically (src/helper/systemd-scope.c).
SD_PKGS   := libsystemd
# libmicrohttpd's static archive needs p11-kit's and libunistring's, which
# Debian does not ship: the HTTP server is its own program,
# build/zonebox-serve, linked dynamically (src/cli/serve.c runs it).
SERVE_PKGS:= libmicrohttpd
CC        ?= cc
BUILD     ?= build
CFLAGS    ?= -O2 -g
# -Wconversion: every narrowing or sign change is written out as a cast, so a
# size or uid parsed from untrusted input cannot silently wrap. The extra
# -W flags below it cost nothing on this tree and keep it that way.
WARN      := -Wall -Wextra -Wshadow -Wformat=2 -Wconversion -Wno-missing-field-initializers \
             -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef -Wpointer-arith
# -U first: some distributions' compilers predefine _FORTIFY_SOURCE=2.
HARDEN    := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -fstack-protector-strong \
             -fstack-clash-protection -fPIE
ifeq ($(WERROR),1)
WARN += -Werror
endif
PKG_CFLAGS:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(shell pkg-config --cflags $(SERVE_PKGS) 2>/dev/null) \
             $(shell pkg-config --cflags $(IMG_PKGS) 2>/dev/null)
# Recursive (=): WARN, HARDEN and CFLAGS are final only after the blocks below.
ZB_CFLAGS  = -std=gnu17 $(WARN) $(HARDEN) -Iinclude $(PKG_CFLAGS)
ZB_LDLIBS := $(shell pkg-config --static --libs $(PKGS) 2>/dev/null)
# static-pie: a sandbox launcher pays for every page fault before its clone;
# loading three shared libraries cost ~2.5 ms a run here (bench/README.md).
# -z relro -z now: full RELRO (checked by scripts/check-hardening).
ZB_LDFLAGS:= -static-pie -Wl,-z,relro,-z,now
DYN_LDLIBS:= $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ifeq ($(SANITIZE),1)
BUILD     := build-asan
CFLAGS    := -O1 -g $(SAN_FLAGS)
# FORTIFY's checked copies would catch an overflow before ASan can name it.
HARDEN    := -fPIE
ZB_LDFLAGS:= -pie -Wl,-z,relro,-z,now $(SAN_FLAGS)
ZB_LDLIBS := $(DYN_LDLIBS)
endif
ifeq ($(VALGRIND),1)
BUILD     := build-vg
CFLAGS    := -O1 -g -fno-omit-frame-pointer
ZB_LDFLAGS:= -pie -Wl,-z,relro,-z,now
ZB_LDLIBS := $(DYN_LDLIBS)
# valgrind 3.19 lacks clone3, the new mount API, pidfd_send_signal and seccomp(2):
# tests/valgrind/syscall-shim.c redoes them with calls it knows (see there).
VG_SHIM   := $(BUILD)/tests/valgrind/syscall-shim.o
VG_LDFLAGS:= -Wl,--wrap=syscall,--wrap=setrlimit
endif
ifeq ($(COVERAGE),1)
BUILD     := build-cov
# -fno-builtin-exec*: gcc would otherwise make every execve dump the
# counters first — in the sandbox, where build-cov/ does not exist, so the
# command's stderr would start with "profiling: ... Cannot create directory".
CFLAGS    := -O0 -g --coverage $(addprefix -fno-builtin-,execve execv execvp execvpe execl execlp execle)
# _FORTIFY_SOURCE needs optimisation; -O0 keeps gcov's line counts exact.
HARDEN    := -fstack-protector-strong -fPIE
# Dynamic: in a static binary that also links the proxy's threads, libgcov's
# fork hook calls a pthread function through a weak reference that static
# linking leaves NULL (every fork in the coverage build crashed).
ZB_LDFLAGS:= -pie -Wl,-z,relro,-z,now --coverage
ZB_LDLIBS := $(DYN_LDLIBS)
endif
ifeq ($(FUZZ),1)
BUILD     := build-fuzz
CC        := clang
CFLAGS    := -O1 -g $(SAN_FLAGS) -fsanitize=fuzzer-no-link
HARDEN    := -fPIE
ZB_LDFLAGS:= -pie -Wl,-z,relro,-z,now $(SAN_FLAGS)
ZB_LDLIBS := $(DYN_LDLIBS)
# gcc's warnings are the gate (WERROR=1 there); clang's differ by version,
# so in this build they are shown, not fatal.
WARN      := $(filter-out -Werror,$(WARN))
endif

# The release binary's layout (issue 15): linked by lld with the functions
# a run executes listed first (tools/hot-functions.txt, made by
# tools/hot-functions), each compiled into a section of its own, so that a
# run touches a few 64 KiB fault-around windows of text instead of nearly
# all of it: about -20 page faults a run (supervisor, PID 1 and the command
# each fault their text in) and -750 kB supervisor peak RSS (bench/README.md,
# "Latest figures", 2026-12-02 10:30). Without ld.lld (Debian: lld) the
# binary links as before;
# scripts/check-hardening then fails its layout check. Only the static-pie
# release build: the other builds and the Debian package (dynamic, its own
# ZB_LDFLAGS) keep the default linker.
ZB_LAYOUT :=
ifneq ($(findstring -static-pie,$(ZB_LDFLAGS)),)
ifneq ($(shell command -v ld.lld 2>/dev/null),)
ZB_CFLAGS += -ffunction-sections
ZB_LAYOUT := -fuse-ld=lld -Wl,--symbol-ordering-file=tools/hot-functions.txt,--no-warn-symbol-ordering
endif
endif

# The flags this build compiles and links with, in a stamp rewritten only
# when they change: every object and binary depends on it, so `make
# WERROR=1` after a plain `make` compiles again instead of finding the build
# up to date (the warnings gate could otherwise pass without compiling).
FLAGS_STAMP := $(BUILD)/.flags
ifeq ($(filter clean deps,$(MAKECMDGOALS)),)
BUILD_FLAGS = $(CC) $(CFLAGS) $(ZB_CFLAGS) $(ZB_LDFLAGS) $(ZB_LAYOUT) $(ZB_LDLIBS)
$(shell mkdir -p $(BUILD) && { printf '%s\n' '$(BUILD_FLAGS)' | cmp -s - $(FLAGS_STAMP) || \
          printf '%s\n' '$(BUILD_FLAGS)' >$(FLAGS_STAMP); })
endif

LIB_SRC := $(wildcard src/core/*.c src/ns/*.c src/engines/*.c src/run/*.c src/mcp/*.c src/wasm/*.c src/serve/*.c src/image/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
UNIT_SRC:= $(wildcard tests/unit/*.c)
FUZZ_SRC:= $(wildcard tests/fuzz/fuzz_*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ:= $(UNIT_SRC:%.c=$(BUILD)/%.o)
FUZZERS := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
REPLAYS := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)

# Per-file compiler flags (also written into compile_commands.json).
# Temporary, until their owners change the cast (both files are theirs):
# gcc 12 reports (uint64_t)int_fd stored into a __u64 as a sign change.
FILE_CFLAGS_src/ns/supervise.c := -Wno-sign-conversion
FILE_CFLAGS_src/cli/doctor.c   := -Wno-sign-conversion

# The default seccomp program, generated at build time (tools/gen-seccomp-default.c)
# by a generator linked with a copy of seccomp.c built without it, with issue 16's
# watch program derived from it. Only seccomp.c includes the generated programs;
# the rest of the layer (the JSON profile reader it calls, the shared name table,
# util, the watch program's builder notify_bpf.c) links in as built.
GEN     := $(BUILD)/gen
FILE_CFLAGS_src/ns/seccomp.c := -DZB_SECCOMP_PRECOMPILED -I$(GEN)
$(GEN)/seccomp-plain.o: src/ns/seccomp.c $(FLAGS_STAMP) $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ZB_CFLAGS) -Isrc -c $< -o $@
$(GEN)/gen-seccomp-default: tools/gen-seccomp-default.c $(GEN)/seccomp-plain.o $(BUILD)/src/ns/seccomp_json.o \
                            $(BUILD)/src/core/seccomp_names.o $(BUILD)/src/core/util.o \
                            $(BUILD)/src/ns/notify_bpf.o
	$(CC) $(CFLAGS) $(ZB_CFLAGS) -Isrc $(ZB_LDFLAGS) -o $@ $^ $(ZB_LDLIBS)
$(GEN)/seccomp_default.h: $(GEN)/gen-seccomp-default
	$< > $@.tmp && mv $@.tmp $@
$(BUILD)/src/ns/seccomp.o: $(GEN)/seccomp_default.h

.PHONY: all clean check unit integration deps demo bench bench-deps fuzz fuzz-replay compile-commands \
        check-hardening lint check-asan check-valgrind check-fuzz coverage check-vm
all: $(BUILD)/zonebox $(BUILD)/zonebox-systemd $(BUILD)/zonebox-serve $(BUILD)/zonebox-image $(BUILD)/unit-tests \
     $(BUILD)/zonebox-serve-job

$(BUILD)/%.o: %.c Makefile $(FLAGS_STAMP) $(wildcard include/*.h src/*/*.h tests/unit/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ZB_CFLAGS) $(FILE_CFLAGS_$<) -Isrc -c $< -o $@

# Made afresh: `ar r` into an old archive would keep the object of a
# source file since removed or renamed.
$(BUILD)/libzonebox.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/zonebox: $(CLI_OBJ) $(BUILD)/libzonebox.a $(VG_SHIM) $(FLAGS_STAMP) $(if $(ZB_LAYOUT),tools/hot-functions.txt)
	$(CC) $(CFLAGS) $(ZB_LDFLAGS) $(ZB_LAYOUT) $(VG_LDFLAGS) -o $@ $(filter-out $(FLAGS_STAMP) %.txt,$^) $(ZB_LDLIBS)

# The systemd scope helper (src/ns/systemd.c runs it from beside zonebox).
# Built from an object of the generic rule, so the hardening gate checks it
# like every other object of src/; linked dynamically (no static libsystemd).
$(BUILD)/zonebox-systemd: $(BUILD)/src/helper/systemd-scope.o
	$(CC) $(CFLAGS) $(subst -static-pie,-pie,$(ZB_LDFLAGS)) -o $@ $< $(shell pkg-config --libs $(SD_PKGS) 2>/dev/null)

# zonebox serve's server (src/serve/server.c on libmicrohttpd): the library
# and its libraries linked dynamically, as the SANITIZE build links zonebox.
$(BUILD)/zonebox-serve: $(BUILD)/src/helper/serve-main.o $(BUILD)/libzonebox.a $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(subst -static-pie,-pie,$(ZB_LDFLAGS)) -o $@ $(filter-out $(FLAGS_STAMP),$^) \
	      $(DYN_LDLIBS) $(shell pkg-config --libs $(SERVE_PKGS) 2>/dev/null)

# zonebox-image, the importer (src/helper/image-main.c: import.c and
# unpack.c on libarchive), linked as zonebox is, with only what it uses.
$(BUILD)/zonebox-image: $(BUILD)/src/helper/image-main.o $(BUILD)/libzonebox.a $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(ZB_LDFLAGS) -Wl,--as-needed -o $@ $(filter-out $(FLAGS_STAMP),$^) $(IMG_LDLIBS)

# The runtimes and the Piston adapter of zonebox serve without the server
# (tests/integration/test_serve_job.py): real sandboxes, no HTTP.
$(BUILD)/zonebox-serve-job: $(BUILD)/tests/serve/job-driver.o $(BUILD)/libzonebox.a $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(ZB_LDFLAGS) -o $@ $(filter-out $(FLAGS_STAMP),$^) $(ZB_LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libzonebox.a $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(ZB_LDFLAGS) -o $@ $(filter-out $(FLAGS_STAMP),$^) $(ZB_LDLIBS)

# Fuzz targets (tests/fuzz/fuzz_*.c, one LLVMFuzzerTestOneInput each):
# libFuzzer binaries in the FUZZ=1 build; in any build, replay binaries
# (tests/fuzz/replay.c as main) that run the checked-in corpus once.
$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/libzonebox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(ZB_LDFLAGS) -o $@ $^ $(ZB_LDLIBS)
$(BUILD)/fuzz-replay/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(BUILD)/libzonebox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ZB_LDFLAGS) -o $@ $^ $(ZB_LDLIBS)

ifeq ($(FUZZ),1)
fuzz: $(FUZZERS)
else
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz
endif
fuzz-replay: $(REPLAYS)

# compile_commands.json for clang-tidy and editors: the exact flags of this build.
ALL_C := $(LIB_SRC) $(CLI_SRC) $(UNIT_SRC) $(FUZZ_SRC) tests/fuzz/replay.c tests/serve/job-driver.c tests/valgrind/syscall-shim.c \
         tools/gen-seccomp-default.c src/helper/systemd-scope.c src/helper/serve-main.c src/helper/image-main.c
$(BUILD)/compile_commands.json: Makefile $(ALL_C)
	@mkdir -p $(dir $@)
	@{ sep=' '; printf '['; \
	   $(foreach f,$(ALL_C),printf '%s\n  {"directory": "%s", "file": "%s", "command": "%s"}' \
	     "$$sep" "$(CURDIR)" "$(f)" "$(CC) $(CFLAGS) $(ZB_CFLAGS) $(FILE_CFLAGS_$(f)) -Isrc -c $(f)"; sep=',';) \
	   printf '\n]\n'; } > $@.tmp && mv $@.tmp $@
compile-commands: $(BUILD)/compile_commands.json $(GEN)/seccomp_default.h

deps:
	@./scripts/install-deps

# The README's two commands. They install what is missing first, then build
# in a fresh make so that pkg-config sees the newly installed libraries.
demo:
	@./scripts/install-deps
	@$(MAKE) --no-print-directory all
	@./scripts/demo

# CI=1: the build, the tests and every quality gate, timed, with a summary
# (scripts/gates; .ci/run adds WERROR=1).
check:
	@./scripts/install-deps $(if $(filter 1,$(CI)),--gates)
ifneq ($(filter 1,$(CI)),)
	@./scripts/gates
else
	@$(MAKE) --no-print-directory all
	@./scripts/run-tests
endif

# The gates one by one (scripts/gates runs them in this order).
check-hardening: all
	@./scripts/check-hardening $(BUILD)
lint:
	@./scripts/lint
check-asan:
	@./scripts/check-asan
check-valgrind:
	@./scripts/check-valgrind
check-fuzz:
	@./scripts/fuzz --ci
coverage:
	@./scripts/coverage
# The real-host matrix in VM guests (tests/vm/check; slow: boots guests).
check-vm: all
	@./scripts/install-deps --vm
	@./tests/vm/check

bench-deps:
	@./scripts/install-deps --bench

bench: all bench-deps
	./bench/compare
	./bench/startup.sh
	./bench/limits.sh
	./bench/engines.sh
	./bench/scale.sh
	./bench/wasm.sh

clean:
	rm -rf build build-asan build-vg build-cov build-fuzz

# make install, uninstall, man pages, pkg-config, completions (mk/install.mk).
include mk/install.mk
# The WASI test modules for the wasm backend (mk/wasm.mk).
include mk/wasm.mk
