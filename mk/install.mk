# mk/install.mk — installing zonebox like a system tool (included at the end
# of the Makefile; kept apart from the build rules above it).
#
#   make install   [PREFIX=/usr/local] [DESTDIR=] [BINDIR= LIBDIR= INCLUDEDIR= MANDIR= DATADIR= ...]
#   make uninstall (the same variables: removes exactly what install put there)
#   make man       build/man/*.1, *.5 (help2man over each command's --help;
#                  go-md2man over docs/config.md for zonebox.yaml(5))
#
# Everything goes under the directories below and nowhere else; install runs
# as an ordinary user with DESTDIR. It installs what `make` built and never
# rebuilds as root: run `make && make man` first (install depends on them, so
# a plain `make install` builds what is missing).

VERSION     := $(shell sed -n 's/^\#define ZB_VERSION "\(.*\)"/\1/p' include/zonebox.h)
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/zonebox
PKGCONFIGDIR?= $(LIBDIR)/pkgconfig
# The dirs each shell reads completions from without configuration:
# bash-completion's (pkg-config bash-completion: completionsdir), zsh's
# site-functions (Debian's zsh: vendor-completions, set by debian/rules),
# fish's vendor_completions.d.
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
INSTALL     ?= install

# --- zonebox version --json: the build's facts, rewritten only when they change
ZB_COMMIT   ?= $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
ZB_VARIANT  := $(if $(filter 1,$(SANITIZE)),asan,$(if $(filter 1,$(VALGRIND)),valgrind,$(if $(filter 1,$(COVERAGE)),coverage,$(if $(filter 1,$(FUZZ)),fuzz,release))))
FILE_CFLAGS_src/cli/version.c := -I$(GEN)
cstr = "$(subst ",\",$(subst \,\\,$(strip $(1))))"
$(GEN)/buildinfo.h: FORCE
	@mkdir -p $(dir $@)
	@{ echo '#define ZB_BUILD_COMMIT $(call cstr,$(ZB_COMMIT))'; \
	   echo '#define ZB_BUILD_VARIANT "$(ZB_VARIANT)"'; \
	   echo '#define ZB_BUILD_CC $(call cstr,$(shell $(CC) --version 2>/dev/null | head -1))'; \
	   echo '#define ZB_BUILD_CFLAGS $(call cstr,$(CFLAGS) $(WARN) $(HARDEN))'; \
	   echo '#define ZB_BUILD_LDFLAGS $(call cstr,$(ZB_LDFLAGS))'; } > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/src/cli/version.o: $(GEN)/buildinfo.h
.PHONY: FORCE
FORCE:
compile-commands: $(GEN)/buildinfo.h
