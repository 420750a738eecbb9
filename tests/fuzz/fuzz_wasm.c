/* The WASI module check (src/wasm/module.c): every module given to
 * `--backend wasm` is read by it on the host, before any sandbox exists.
 * Besides memory safety: the verdict is one of the four, a one-line reason
 * comes with every refusal, and only a buffer with the magic and version 1
 * is accepted. Seeds (tests/fuzz/corpus/wasm): small test modules of
 * tests/wasm/ built by mk/wasm.mk, and their broken variants. */
#include "fuzz.h"

#include "wasm/wasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char why[256] = "";
        enum wasm_check c = wasm_module_check(data, size, why, sizeof(why));
        fuzz_assert(c == WASM_CHECK_OK || c == WASM_CHECK_NOT_MODULE || c == WASM_CHECK_NOT_WASI ||
                    c == WASM_CHECK_UNSUPPORTED);
        if (c != WASM_CHECK_OK)
                fuzz_assert(why[0] != '\0' && !strchr(why, '\n'));
        else
                fuzz_assert(size >= 8 && memcmp(data, "\0asm\1\0\0\0", 8) == 0);
        return 0;
}
