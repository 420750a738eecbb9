/* zonebox-image: the program zonebox runs to import an image into the
 * store (src/image/spawn.c says why it is its own program: libarchive,
 * linked dynamically here, stays out of the static-pie zonebox).
 *
 *   zonebox-image import REF [NAME]   import.c's img_import_here: verify,
 *                                     unpack into tmp/, commit
 *
 * Exit 0 when the image is in the store; otherwise the errno as the exit
 * status and one line on stderr, which zonebox passes on as it is. */
#include <stdio.h>
#include <string.h>

#include "image/image.h"

int main(int argc, char **argv)
{
        struct zb_error err = { 0 };
        struct img_image im;
        if (argc < 3 || argc > 4 || strcmp(argv[1], "import") != 0) {
                fputs("usage: zonebox-image import REF [NAME] (zonebox image import runs it)\n", stderr);
                return EINVAL;
        }
        if (img_import_here(argv[2], argc == 4 ? argv[3] : NULL, &im, &err) < 0) {
                fprintf(stderr, "%s\n", err.message[0] ? err.message : "image: import failed");
                return err.code < 0 && err.code > -256 ? -err.code : 1;
        }
        img_image_free_fields(&im);
        return 0;
}
