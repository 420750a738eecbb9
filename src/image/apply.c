/* What a run takes from its image (zb_policy_use_image): the store's layer
 * dirs as the root, and the image config's defaults where the policy says
 * nothing: Entrypoint+Cmd when no command is given, Env under the policy's
 * env (a policy entry wins), WorkingDir, User. The docker backend passes
 * the reference to its engine instead (a layout or archive copied into
 * the engine's storage first). Never the host's dirs in an image's place. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/policy.h"
#include "image.h"

static int set_layers(struct zb_policy *p, const struct img_image *im, struct zb_error *err)
{
        char path[4200];
        p->image_layers = calloc(im->n_layers + 1, sizeof(char *));
        if (!p->image_layers)
                return err_set(err, ENOMEM, "out of memory");
        /* overlayfs's lowerdir order: the top layer first. */
        for (size_t i = im->n_layers; i-- > 0;) {
                int r = img_layer_path(im->layers[i], path, sizeof(path), err);
                if (r < 0)
                        return r;
                if (!(p->image_layers[p->n_image_layers++] = util_strdup(path)))
                        return err_set(err, ENOMEM, "out of memory");
        }
        int r = img_layer_path(NULL, path, sizeof(path), err);
        if (r == 0 && !(p->image_layers[p->n_image_layers++] = util_strdup(path)))
                r = err_set(err, ENOMEM, "out of memory");
        return r;
}

static int set_command(struct zb_policy *p, const struct img_config *c, struct zb_error *err)
{
        char *argv[256];
        int n = 0;
        for (size_t i = 0; c->entrypoint && c->entrypoint[i] && n < 255; i++)
                argv[n++] = c->entrypoint[i];
        for (size_t i = 0; c->cmd && c->cmd[i] && n < 255; i++)
                argv[n++] = c->cmd[i];
        argv[n] = NULL;
        if (n == 0)
                return err_set(err, EINVAL, "command: empty, and the image '%s' has no Entrypoint or Cmd (give it after --)",
                               p->image);
        return zb_policy_set_command(p, n, argv, err);
}

/* The image's Env first: later entries win, so the policy's override it. */
static int set_env(struct zb_policy *p, const struct img_config *c, struct zb_error *err)
{
        size_t n = 0;
        while (c->env && c->env[n])
                n++;
        if (!n)
                return 0;
        char **env = calloc(n + p->n_env + 1, sizeof(char *));
        if (!env)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                if (!(env[i] = util_strdup(c->env[i]))) {
                        for (size_t k = 0; k < i; k++)
                                free(env[k]);
                        free(env);
                        return err_set(err, ENOMEM, "out of memory");
                }
        for (size_t i = 0; i < p->n_env; i++)
                env[n + i] = p->env[i];
        free(p->env);
        p->env = env;
        p->n_env += n;
        return 0;
}

static int set_defaults(struct zb_policy *p, const struct img_config *c, struct zb_error *err)
{
        int r = p->argc ? 0 : set_command(p, c, err);
        if (r == 0)
                r = set_env(p, c, err);
        if (r == 0 && c->workdir && !p->workdir && !(p->workdir = util_strdup(c->workdir)))
                r = err_set(err, ENOMEM, "out of memory");
        if (r == 0 && c->user && !p->security.user_set &&
            zb_policy_apply_flag(p, "--user", c->user, err) < 0)
                r = err_set(err, EINVAL, "image: '%s': its config's User '%s' is not uid[:gid] (set user: or --user)",
                            p->image, c->user);
        return r;
}

/* docker/podman: a layout or an archive is copied into the engine's own
 * storage first (skopeo: containers-storage for podman, docker-daemon for
 * docker) and the engine gets its name; a name goes to the engine as it is. */
static int load_into_engine(struct zb_policy *p, struct zb_error *err)
{
        struct img_ref rf;
        int r = img_ref_parse(p->image, &rf, err);
        if (r < 0 || rf.kind == IMG_REF_STORE)
                return r == -EINVAL ? 0 : r; /* any engine name: the engine checks it */
        const char *env = getenv("ZONEBOX_DOCKER");
        const char *cli = p->engine.cli[0] ? p->engine.cli : env && env[0] ? env : "docker";
        const char *base = strrchr(cli, '/') ? strrchr(cli, '/') + 1 : cli;
        bool podman = strstr(base, "podman") != NULL;
        char name[IMG_NAME_MAX + 32], dst[IMG_NAME_MAX + 64];
        snprintf(name, sizeof(name), "localhost/zonebox/%s%s", rf.name, strchr(rf.name, ':') ? "" : ":latest");
        snprintf(dst, sizeof(dst), "%s:%s", podman ? "containers-storage" : "docker-daemon", name);
        r = img_skopeo_copy(p->image, dst, err);
        if (r < 0)
                return r;
        char *copy = util_strdup(name);
        if (!copy)
                return err_set(err, ENOMEM, "out of memory");
        free(p->image);
        p->image = copy;
        return 0;
}

int zb_policy_use_image(struct zb_policy *p, struct zb_error *err)
{
        struct img_image im;
        if (p->image && p->backend == ZB_BACKEND_DOCKER)
                return load_into_engine(p, err);
        if (!p->image || p->backend == ZB_BACKEND_KUBERNETES || p->n_image_layers)
                return 0;
        if (p->backend != ZB_BACKEND_NAMESPACE && p->backend != ZB_BACKEND_OCI)
                return 0; /* wasm: validation names what it cannot express */
        int r = img_resolve(p->image, &im, err);
        if (r < 0)
                return r;
        r = set_layers(p, &im, err);
        if (r == 0)
                r = set_defaults(p, &im.config, err);
        img_image_free_fields(&im);
        return r;
}
