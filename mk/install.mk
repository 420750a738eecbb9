# mk/install.mk — installing zonebox like a system tool (included at the end
# of the Makefile; kept apart from the build rules above it).
#
#   make install   [PREFIX=/usr/local] [DESTDIR=] [BINDIR= LIBEXECDIR= LIBDIR= INCLUDEDIR= MANDIR= DATADIR= ...]
#   make uninstall (the same variables: removes exactly what install put there)
#   make man       build/man/*.1, *.5 (help2man over each command's --help;
#                  go-md2man over docs/config.md for zonebox.yaml(5))
#
# Everything goes under the directories below and nowhere else; install runs
# as an ordinary user with DESTDIR, also from a tree someone else built (it
# writes nothing into the build dir when that is up to date).

VERSION     := $(shell sed -n 's/^\#define ZB_VERSION "\(.*\)"/\1/p' include/zonebox.h)
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
# Helper programs zonebox starts itself (the systemd scope helper, the HTTP
# server of zonebox serve); zonebox
# finds them at ../libexec/zonebox beside its own binary, so any PREFIX works.
LIBEXECDIR  ?= $(PREFIX)/libexec/zonebox
INCLUDEDIR  ?= $(PREFIX)/include
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/zonebox
PKGCONFIGDIR?= $(LIBDIR)/pkgconfig
# The dirs each shell reads completions from without configuration:
# bash-completion's (pkg-config bash-completion: completionsdir) and zsh's
# site-functions (Debian's zsh: vendor-completions, set by debian/rules).
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/site-functions
INSTALL     ?= install

# --- zonebox version --json: the build's facts, rewritten only when they change
ifndef ZB_COMMIT
ZB_COMMIT   := $(shell git -c safe.directory='$(CURDIR)' describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
endif
ZB_VARIANT  := $(if $(filter 1,$(SANITIZE)),asan,$(if $(filter 1,$(VALGRIND)),valgrind,$(if $(filter 1,$(COVERAGE)),coverage,$(if $(filter 1,$(FUZZ)),fuzz,release))))
FILE_CFLAGS_src/cli/version.c := -I$(GEN)
cstr = "$(subst ",\",$(subst \,\\,$(strip $(1))))"
# Compared before written, so an ordinary user can `make install` from a
# tree built by someone else (nothing to write when nothing changed).
BUILDINFO = printf '%s\n' \
  '\#define ZB_BUILD_COMMIT $(call cstr,$(ZB_COMMIT))' \
  '\#define ZB_BUILD_VARIANT "$(ZB_VARIANT)"' \
  '\#define ZB_BUILD_CC $(call cstr,$(shell $(CC) --version 2>/dev/null | head -1))' \
  '\#define ZB_BUILD_CFLAGS $(call cstr,$(CFLAGS) $(filter-out -Werror,$(WARN)) $(HARDEN))' \
  '\#define ZB_BUILD_LDFLAGS $(call cstr,$(ZB_LDFLAGS) $(ZB_LAYOUT))'
$(GEN)/buildinfo.h: FORCE
	@$(BUILDINFO) | cmp -s - $@ || { mkdir -p $(dir $@) && $(BUILDINFO) > $@; }
$(BUILD)/src/cli/version.o: $(GEN)/buildinfo.h
.PHONY: FORCE
FORCE:
compile-commands: $(GEN)/buildinfo.h

# --- man pages: each generated from its one source (tools/gen-man)
MAN_DIR := $(BUILD)/man
$(MAN_DIR)/.stamp: $(BUILD)/zonebox tools/gen-man tools/md2man docs/config.md
	tools/gen-man $(BUILD)/zonebox $(MAN_DIR)
	@touch $@
man: $(MAN_DIR)/.stamp

# --- pkg-config: a static library, so its dependencies are Requires.private
# (pkg-config --static --libs zonebox); docs/install.md says why no .so yet.
# Written at install time: it names the dirs of that install.
ZONEBOX_PC = printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
  'Name: zonebox' \
  'Description: run untrusted commands in a Linux sandbox (namespaces, cgroups, seccomp, Landlock)' \
  'Version: $(VERSION)' \
  'Requires.private: $(PKGS)' \
  'Libs: -L$${libdir} -lzonebox' \
  'Libs.private: -pthread' \
  'Cflags: -I$${includedir}'

# --- install / uninstall. INSTALLED lists every file, relative to DESTDIR,
# so uninstall removes exactly those (and then the dirs it made, if empty).
EXAMPLES  := $(wildcard examples/*.c examples/*.yaml)
DOCS      := README.md $(wildcard docs/*.md)
MAN_PAGES  = $(wildcard $(MAN_DIR)/*.1 $(MAN_DIR)/*.5)

INSTALLED = $(BINDIR)/zonebox $(LIBEXECDIR)/zonebox-systemd $(LIBEXECDIR)/zonebox-serve $(LIBEXECDIR)/zonebox-image \
            $(LIBDIR)/libzonebox.a $(INCLUDEDIR)/zonebox.h \
            $(PKGCONFIGDIR)/zonebox.pc \
            $(BASHCOMPDIR)/zonebox $(ZSHCOMPDIR)/_zonebox \
            $(addprefix $(DOCDIR)/examples/,$(notdir $(EXAMPLES))) \
            $(addprefix $(DOCDIR)/,$(DOCS))
INSTALL_DIRS = $(BINDIR) $(LIBEXECDIR) $(LIBDIR) $(INCLUDEDIR) $(PKGCONFIGDIR) $(MANDIR)/man1 $(MANDIR)/man5 \
               $(BASHCOMPDIR) $(ZSHCOMPDIR) $(DOCDIR)/examples $(DOCDIR)/docs

.PHONY: man install uninstall install-files
install: $(BUILD)/zonebox $(BUILD)/zonebox-systemd $(BUILD)/zonebox-serve $(BUILD)/zonebox-image $(BUILD)/libzonebox.a $(MAN_DIR)/.stamp
	@$(MAKE) --no-print-directory install-files
install-files:
	$(INSTALL) -d $(addprefix $(DESTDIR),$(INSTALL_DIRS))
	$(INSTALL) -m 0755 $(BUILD)/zonebox $(DESTDIR)$(BINDIR)/zonebox
	$(INSTALL) -m 0755 $(BUILD)/zonebox-systemd $(DESTDIR)$(LIBEXECDIR)/zonebox-systemd
	$(INSTALL) -m 0755 $(BUILD)/zonebox-serve $(DESTDIR)$(LIBEXECDIR)/zonebox-serve
	$(INSTALL) -m 0755 $(BUILD)/zonebox-image $(DESTDIR)$(LIBEXECDIR)/zonebox-image
	$(INSTALL) -m 0644 $(BUILD)/libzonebox.a $(DESTDIR)$(LIBDIR)/libzonebox.a
	$(INSTALL) -m 0644 include/zonebox.h $(DESTDIR)$(INCLUDEDIR)/zonebox.h
	$(ZONEBOX_PC) > $(DESTDIR)$(PKGCONFIGDIR)/zonebox.pc && chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/zonebox.pc
	$(INSTALL) -m 0644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 completions/zonebox.bash $(DESTDIR)$(BASHCOMPDIR)/zonebox
	$(INSTALL) -m 0644 completions/_zonebox $(DESTDIR)$(ZSHCOMPDIR)/_zonebox
	$(INSTALL) -m 0644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	$(INSTALL) -m 0644 $(wildcard docs/*.md) $(DESTDIR)$(DOCDIR)/docs/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rm -f $(DESTDIR)$(MANDIR)/man1/zonebox.1 $(DESTDIR)$(MANDIR)/man1/zonebox-*.1 \
	      $(DESTDIR)$(MANDIR)/man5/zonebox.yaml.5
	@# zonebox's own dirs only: bin/, man1/ and the like may be empty now but
	@# are the system's (autotools leaves them too).
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR) $(DESTDIR)$(LIBEXECDIR) 2>/dev/null

# --- the Debian packages: build-deb-out/*.deb (lintian-checked), and the
# gate that also installs them on a fresh Debian 12 (scripts/check-deb).
.PHONY: deb check-deb
deb:
	@./scripts/build-deb
check-deb:
	@./scripts/check-deb
