# The WASI test modules of the wasm backend (tests/wasm/*.c →
# $(BUILD)/wasm/*.wasm, read by tests/integration/test_wasm.py and
# bench/wasm.sh): clang-14 --target=wasm32-wasi with Debian's wasi-libc,
# libclang-rt-14-dev-wasm32 (the builtins) and lld-14 (wasm-ld), which
# scripts/install-deps installs. `make` builds them when that toolchain is
# here; `make wasm-modules` insists (and fails naming what is missing).
WASM_CC      ?= clang-14
WASM_SRC     := $(wildcard tests/wasm/*.c)
WASM_MODULES := $(WASM_SRC:tests/wasm/%.c=$(BUILD)/wasm/%.wasm)
# A reactor (library) module: no _start, which zonebox must refuse.
WASM_FLAGS_reactor := -mexec-model=reactor
WASM_TOOLCHAIN := $(and $(shell command -v $(WASM_CC) 2>/dev/null),$(wildcard /usr/lib/wasm32-wasi/libc.a),\
                        $(wildcard /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a))

$(BUILD)/wasm/%.wasm: tests/wasm/%.c mk/wasm.mk
	@mkdir -p $(dir $@)
	$(WASM_CC) --target=wasm32-wasi -O2 -Wall -Wextra -Werror $(WASM_FLAGS_$*) -o $@ $<

.PHONY: wasm-modules
wasm-modules: $(WASM_MODULES)
ifneq ($(WASM_TOOLCHAIN),)
all: wasm-modules
endif
