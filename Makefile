# zonebox — GNU make + pkg-config. `make` builds build/zonebox and
# build/libzonebox.a; `make check` runs every test; `make deps` installs what
# a fresh Debian 12 lacks. SANITIZE=1 builds with ASan+UBSan into build-asan/.

.DEFAULT_GOAL := all
PKGS      := libseccomp yaml-0.1 json-c
CC        ?= cc
BUILD     ?= build
CFLAGS    ?= -O2 -g
WARN      := -Wall -Wextra -Wshadow -Wformat=2 -Wno-missing-field-initializers
HARDEN    := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
ifeq ($(WERROR),1)
WARN += -Werror
endif
PKG_CFLAGS:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Recursive (=): WARN, HARDEN and CFLAGS are final only after the blocks below.
ZB_CFLAGS  = -std=gnu17 $(WARN) $(HARDEN) -Iinclude $(PKG_CFLAGS)
ZB_LDLIBS := $(shell pkg-config --static --libs $(PKGS) 2>/dev/null)
# static-pie: a sandbox launcher pays for every page fault before its clone;
# loading three shared libraries cost ~2.5 ms a run here (bench/README.md).
ZB_LDFLAGS:= -static-pie -Wl,-z,relro,-z,now

ifeq ($(SANITIZE),1)
BUILD     := build-asan
CFLAGS    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
HARDEN    := -fPIE
ZB_LDFLAGS:= -pie -Wl,-z,relro,-z,now -fsanitize=address,undefined
ZB_LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
endif

LIB_SRC := $(wildcard src/core/*.c src/ns/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
UNIT_SRC:= $(wildcard tests/unit/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ:= $(UNIT_SRC:%.c=$(BUILD)/%.o)

# The default seccomp program, generated at build time (tools/gen-seccomp-default.c)
# by a generator linked with a copy of seccomp.c built without it.
GEN     := $(BUILD)/gen
$(GEN)/seccomp-plain.o: src/ns/seccomp.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ZB_CFLAGS) -Isrc -c $< -o $@
$(GEN)/gen-seccomp-default: tools/gen-seccomp-default.c $(GEN)/seccomp-plain.o $(BUILD)/src/core/util.o
	$(CC) $(CFLAGS) $(ZB_CFLAGS) -Isrc $(ZB_LDFLAGS) -o $@ $^ $(ZB_LDLIBS)
$(GEN)/seccomp_default.h: $(GEN)/gen-seccomp-default
	$< > $@.tmp && mv $@.tmp $@
$(BUILD)/src/ns/seccomp.o: $(GEN)/seccomp_default.h
$(BUILD)/src/ns/seccomp.o: private ZB_CFLAGS += -DZB_SECCOMP_PRECOMPILED -I$(GEN)

.PHONY: all clean check unit integration deps demo bench
all: $(BUILD)/zonebox $(BUILD)/unit-tests

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ZB_CFLAGS) -Isrc -c $< -o $@

$(BUILD)/libzonebox.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/zonebox: $(CLI_OBJ) $(BUILD)/libzonebox.a
	$(CC) $(CFLAGS) $(ZB_LDFLAGS) -o $@ $^ $(ZB_LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libzonebox.a
	$(CC) $(CFLAGS) $(ZB_LDFLAGS) -o $@ $^ $(ZB_LDLIBS)

deps:
	@./scripts/install-deps

# The README's two commands. They install what is missing first, then build
# in a fresh make so that pkg-config sees the newly installed libraries.
demo:
	@./scripts/install-deps
	@$(MAKE) --no-print-directory all
	@./scripts/demo

check:
	@./scripts/install-deps
	@$(MAKE) --no-print-directory all
	@./scripts/run-tests

bench: all
	./bench/startup.sh
	./bench/limits.sh

clean:
	rm -rf build build-asan
