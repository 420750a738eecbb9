/* Disk and block-I/O limits for the engines: what each can express of
 * zone size caps and block-I/O throttling, and a warning for the rest.
 *
 * - docker/podman: --device-{read,write}-{bps,iops} and --blkio-weight; a
 *   zone's device as /dev/block/MAJ:MIN (this host's). A bind mount has no
 *   size cap: warned.
 * - OCI: linux.resources.blockIO (weight, throttle*Device with major and
 *   minor, resolved on this host). Size caps: warned.
 * - Kubernetes: an emptyDir zone's size is its sizeLimit, and their sum
 *   the container's ephemeral-storage request and limit (the kubelet
 *   evicts the pod past it: not EDQUOT). Block I/O and caps on PVC or
 *   hostPath volumes: warned. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "engine.h"
#include "io.h"

static const char *const docker_flag[] = {
        [ZB_IO_READ_BPS] = "--device-read-bps", [ZB_IO_WRITE_BPS] = "--device-write-bps",
        [ZB_IO_READ_IOPS] = "--device-read-iops", [ZB_IO_WRITE_IOPS] = "--device-write-iops",
};
static const char *const oci_key[] = {
        [ZB_IO_READ_BPS] = "throttleReadBpsDevice", [ZB_IO_WRITE_BPS] = "throttleWriteBpsDevice",
        [ZB_IO_READ_IOPS] = "throttleReadIOPSDevice", [ZB_IO_WRITE_IOPS] = "throttleWriteIOPSDevice",
};

/* The device of a limit on this host: a block device's rdev, or the
 * device a zone's host dir is on. False (and a warning) when unknown. */
static bool limit_dev(const struct zb_policy *p, const struct pol_io_limit *l, dev_t *out,
                      struct eng_notes *n)
{
        struct stat st;
        const char *path = l->target;
        if (l->zone) {
                path = NULL;
                for (size_t i = 0; i < p->n_zones; i++)
                        if (strcmp(p->zones[i].name, l->target) == 0)
                                path = p->zones[i].host_path;
        }
        if (!path || stat(path, &st) < 0 || (l->zone ? major(st.st_dev) == 0 : !S_ISBLK(st.st_mode))) {
                eng_warn(n, "limits: block I/O limit on %s%s: no block device found on this host, left out",
                         l->zone ? "zone " : "", l->target);
                return false;
        }
        *out = l->zone ? st.st_dev : st.st_rdev;
        return true;
}

static void warn_zone_caps(const struct zb_policy *p, const char *engine, struct eng_notes *n)
{
        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                if (z->size && z->mode != ZB_ZONE_TMPFS)
                        eng_warn(n, "zone '%s': size: %s cannot cap a bind mount's size (a project quota on the host dir would)",
                                 z->name, engine);
        }
}

void eng_io_docker(struct eng_argv *a, const struct zb_policy *p, struct eng_notes *n)
{
        const struct pol_io *io = &p->limits.io;
        for (size_t i = 0; i < io->n; i++) {
                const struct pol_io_limit *l = &io->limits[i];
                dev_t d;
                if (!l->zone) {
                        eng_argv_add(a, docker_flag[l->kind]);
                        eng_argv_addf(a, "%s:%llu", l->target, (unsigned long long)l->rate);
                } else if (limit_dev(p, l, &d, n)) {
                        eng_argv_add(a, docker_flag[l->kind]);
                        eng_argv_addf(a, "/dev/block/%u:%u:%llu", major(d), minor(d),
                                      (unsigned long long)l->rate);
                }
        }
        if (io->weight) {
                eng_argv_add(a, "--blkio-weight");
                eng_argv_addf(a, "%llu", (unsigned long long)io->weight);
        }
        warn_zone_caps(p, "docker", n);
}

json_object *eng_io_oci(const struct zb_policy *p, struct eng_notes *n)
{
        const struct pol_io *io = &p->limits.io;
        warn_zone_caps(p, "an OCI runtime", n);
        if (!pol_io_wanted(io))
                return NULL;
        json_object *b = json_object_new_object();
        if (io->weight)
                json_object_object_add(b, "weight", json_object_new_int((int)io->weight));
        for (size_t i = 0; i < io->n; i++) {
                const struct pol_io_limit *l = &io->limits[i];
                dev_t d;
                if (!limit_dev(p, l, &d, n))
                        continue;
                json_object *arr = NULL;
                if (!json_object_object_get_ex(b, oci_key[l->kind], &arr)) {
                        arr = json_object_new_array();
                        json_object_object_add(b, oci_key[l->kind], arr);
                }
                json_object *e = json_object_new_object();
                json_object_object_add(e, "major", json_object_new_int64(major(d)));
                json_object_object_add(e, "minor", json_object_new_int64(minor(d)));
                json_object_object_add(e, "rate", json_object_new_uint64(l->rate));
                json_object_array_add(arr, e);
        }
        return b;
}

uint64_t eng_io_k8s(const struct zb_policy *p, struct eng_notes *n)
{
        uint64_t ephemeral = 0;
        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                if (!z->size || z->mode == ZB_ZONE_TMPFS)
                        continue;
                if (p->engine.k8s_host_zones == ZB_K8S_VOL_EMPTYDIR)
                        ephemeral += z->size;
                else
                        eng_warn(n, "zone '%s': size: a %s volume has no per-pod size cap (size the claim, or --host-zones emptyDir)",
                                 z->name, p->engine.k8s_host_zones == ZB_K8S_VOL_PVC ? "PersistentVolumeClaim" : "hostPath");
        }
        if (ephemeral)
                eng_info(n, "zones: emptyDir sizeLimit and ephemeral-storage: the kubelet evicts the pod past the cap (no EDQUOT inside)");
        return ephemeral;
}
