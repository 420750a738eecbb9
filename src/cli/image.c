/* zonebox image import|list|inspect|rm|prune: the image store (src/image/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../image/image.h"
#include "cli.h"

static const char image_help[] =
        "Usage: zonebox image import REF [--name NAME]\n"
        "       zonebox image list\n"
        "       zonebox image inspect NAME\n"
        "       zonebox image rm NAME\n"
        "       zonebox image prune\n"
        "\n"
        "The local image store that `zonebox run --image` (namespace backend) uses.\n"
        "REF is oci:DIR[:TAG] (an OCI image layout) or docker-archive:FILE (docker or\n"
        "podman save; converted with skopeo). Layers are checked against their sha256,\n"
        "unpacked once and shared by every image and run; the store is unchanged when an\n"
        "import fails. The store: $ZONEBOX_IMAGE_DIR, else /var/lib/zonebox/images for\n"
        "root, ~/.local/share/zonebox/images for other users (docs/images.md). Imports\n"
        "are done by the helper zonebox-image (beside zonebox, or in libexec/zonebox).\n"
        "\n"
        "  import REF [--name NAME]  unpack REF into the store (NAME: default DIR:TAG or FILE)\n"
        "  list                      every image, as JSON\n"
        "  inspect NAME              one image: layers, config (Env, Cmd, ...), layer dirs\n"
        "  rm NAME                   forget an image (its layers stay until prune)\n"
        "  prune                     remove layers no image names\n";

static int fail(const char *cmd, const struct zb_error *err)
{
        fprintf(stderr, "zonebox image %s: %s\n", cmd, cli_esc(err->message));
        return ZB_EXIT_ERROR;
}

static int usage(const char *msg)
{
        fprintf(stderr, "zonebox image: %s (see zonebox image --help)\n", msg);
        return ZB_EXIT_ERROR;
}

static int image_import(int argc, char **argv)
{
        struct zb_error err = { 0 };
        struct img_image im;
        const char *ref = NULL, *name = NULL;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
                        name = argv[++i];
                else if (argv[i][0] == '-' || ref)
                        return usage("import: takes REF and --name NAME");
                else
                        ref = argv[i];
        }
        if (!ref)
                return usage("import: which image? (oci:DIR[:TAG] or docker-archive:FILE)");
        if (img_import(ref, name, &im, &err) < 0)
                return fail("import", &err);
        printf("%s sha256:%s (%zu layers)\n", im.name, im.manifest, im.n_layers);
        img_image_free_fields(&im);
        return 0;
}

static int print_json(const char *cmd, int r, char *json, const struct zb_error *err)
{
        if (r < 0 || !json)
                return fail(cmd, err);
        puts(json);
        free(json);
        return 0;
}

int cli_image(int argc, char **argv)
{
        struct zb_error err = { 0 };
        char *json = NULL;
        if (argc < 2)
                return usage("which command? import, list, inspect, rm or prune");
        const char *cmd = argv[1];
        for (int i = 2; i < argc; i++)
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                        cmd = "--help";
        if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
                fputs(image_help, stdout);
                return 0;
        }
        if (strcmp(cmd, "import") == 0)
                return image_import(argc - 1, argv + 1);
        if (strcmp(cmd, "list") == 0 || strcmp(cmd, "ls") == 0) {
                if (argc != 2)
                        return usage("list takes no arguments");
                int r = img_list_json(&json, &err);
                return print_json("list", r, json, &err);
        }
        if ((strcmp(cmd, "inspect") == 0 || strcmp(cmd, "rm") == 0) && argc != 3)
                return usage("inspect and rm take one NAME");
        if (strcmp(cmd, "inspect") == 0) {
                int r = img_inspect_json(argv[2], &json, &err);
                return print_json("inspect", r, json, &err);
        }
        if (strcmp(cmd, "rm") == 0)
                return img_remove(argv[2], &err) < 0 ? fail("rm", &err) : 0;
        if (strcmp(cmd, "prune") == 0) {
                unsigned removed = 0;
                if (argc != 2)
                        return usage("prune takes no arguments");
                if (img_prune(&removed, &err) < 0)
                        return fail("prune", &err);
                printf("removed %u unused layer dirs\n", removed);
                return 0;
        }
        return usage("unknown command (import, list, inspect, rm, prune)");
}
