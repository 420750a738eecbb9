/* A layer entry's path and an image reference (src/image/ref.c): tar names
 * and references come from whoever made the image. The invariants: an
 * accepted entry never names an absolute path or a ".." component, its
 * parts fit their buffers, and a whiteout's name is never "", "." or "..";
 * an accepted reference's name is a valid store name. */
#include "fuzz.h"

#include "image/image.h"

static void check_entry(const char *name)
{
        char parent[256], base[64];
        enum img_entry_kind kind;
        const char *why = NULL;
        int r = img_entry_path(name, parent, sizeof(parent), base, sizeof(base), &kind, &why);
        if (r < 0) {
                fuzz_assert(why && why[0]);
                return;
        }
        if (r == 1)
                return;
        fuzz_assert(parent[0] != '/' && strcmp(base, "..") != 0 && strcmp(base, ".") != 0);
        fuzz_assert(strchr(base, '/') == NULL);
        fuzz_assert(strstr(parent, "..") == NULL || strstr(parent, "/../") == NULL);
        fuzz_assert(strcmp(parent, "..") != 0 && strncmp(parent, "../", 3) != 0);
        fuzz_assert(kind == IMG_ENTRY_OPAQUE ? base[0] == '\0' : base[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = fuzz_cstr(data, size);
        struct img_ref *r = malloc(sizeof(*r));
        struct zb_error err = { 0 };
        check_entry(text);
        if (r && img_ref_parse(text, r, &err) == 0)
                fuzz_assert(img_name_valid(r->name));
        free(r);
        free(text);
        return 0;
}
