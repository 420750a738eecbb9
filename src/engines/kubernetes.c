/* The kubernetes backend: the policy as a Pod (or a Job) plus a deny-all
 * NetworkPolicy, meeting the "restricted" Pod Security Standard:
 * runAsNonRoot, allowPrivilegeEscalation false, capabilities drop ALL,
 * seccompProfile RuntimeDefault or Localhost, readOnlyRootFilesystem, no
 * host namespaces, no service-account token, only restricted volume types
 * unless the operator picks hostPath for host zones (which the standard
 * refuses, and the notes say so). Resources become requests = limits
 * (Guaranteed QoS); wall_time becomes activeDeadlineSeconds; tmpfs zones
 * become memory-backed emptyDirs with their size; user namespaces
 * hostUsers: false; gVisor runtimeClassName: gvisor. What a Pod cannot
 * express (rlimits, pids per pod, swap, Landlock, zonebox's own seccomp
 * profile unless installed on the nodes) is listed in the notes and in the
 * annotation zonebox.dev/not-expressed. Emitted as JSON, which is YAML. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>

#include "engine.h"
#include "io.h"

#define LABEL_KEY "zonebox.dev/sandbox"
#define CONTAINER_NAME "sandbox"

static json_object *str(const char *s)
{
        return json_object_new_string(s);
}

/* A DNS-1123 label from S ("zonebox" when S has nothing usable). */
static void dns_label(const char *s, const char *prefix, char *out, size_t n)
{
        size_t o = 0;
        for (const char *p = prefix; *p && o + 1 < n; p++)
                out[o++] = *p;
        for (; s && *s && o + 1 < n && o < 63; s++) {
                char c = (char)tolower((unsigned char)*s);
                if (isalnum((unsigned char)c))
                        out[o++] = c;
                else if (o > 0 && out[o - 1] != '-')
                        out[o++] = '-';
        }
        while (o > 0 && out[o - 1] == '-')
                o--;
        out[o] = '\0';
        if (!o)
                snprintf(out, n, "zonebox");
}

static void quantity(uint64_t bytes, char *buf, size_t n)
{
        static const char *const units[] = { "Gi", "Mi", "Ki" };
        static const unsigned shift[] = { 30, 20, 10 };
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (bytes >= (1ull << shift[i]) && bytes % (1ull << shift[i]) == 0) {
                        snprintf(buf, n, "%llu%s", (unsigned long long)(bytes >> shift[i]), units[i]);
                        return;
                }
        snprintf(buf, n, "%llu", (unsigned long long)bytes);
}

static json_object *seccomp_profile(const struct zb_policy *p, const char *localhost, struct eng_notes *n)
{
        json_object *o = json_object_new_object();
        const char *sc = p->security.seccomp;
        if (sc && strcmp(sc, "unconfined") == 0) {
                json_object_object_add(o, "type", str("Unconfined"));
                eng_skip(n, "seccomp", "seccomp: unconfined, which the restricted Pod Security Standard refuses");
        } else if (localhost) {
                const char *base = strrchr(localhost, '/');
                json_object_object_add(o, "type", str("Localhost"));
                char rel[300];
                snprintf(rel, sizeof(rel), "zonebox/%s", base ? base + 1 : localhost);
                json_object_object_add(o, "localhostProfile", str(rel));
                eng_apply(n, "seccomp");
                eng_info(n, "seccomp: install %s on every node as <kubelet root>/seccomp/%s", localhost, rel);
        } else {
                json_object_object_add(o, "type", str("RuntimeDefault"));
                eng_apply(n, "seccomp");
                eng_warn(n, "seccomp: the runtime's default profile stands in for zonebox's (give --seccomp-out FILE to write zonebox's and use it as a Localhost profile)");
        }
        return o;
}

static json_object *container_security(const struct zb_policy *p, json_object *profile, struct eng_notes *n)
{
        const struct pol_security *s = &p->security;
        json_object *sc = json_object_new_object(), *caps = json_object_new_object(), *drop = json_object_new_array();

        json_object_object_add(sc, "allowPrivilegeEscalation", json_object_new_boolean(!s->no_new_privileges));
        if (s->no_new_privileges)
                eng_apply(n, "no_new_privileges");
        else
                eng_skip(n, "no_new_privileges", "no_new_privileges: off by the policy (allowPrivilegeEscalation: true, refused by the restricted standard)");
        json_object_object_add(sc, "privileged", json_object_new_boolean(false));
        json_object_object_add(sc, "readOnlyRootFilesystem", json_object_new_boolean(true));
        eng_apply(n, "rootfs_readonly");
        json_object_array_add(drop, str("ALL"));
        json_object_object_add(caps, "drop", drop);
        json_object_object_add(sc, "capabilities", caps);
        eng_apply(n, "capabilities");
        json_object_object_add(sc, "runAsNonRoot", json_object_new_boolean(s->uid != 0));
        json_object_object_add(sc, "runAsUser", json_object_new_int64(s->uid));
        json_object_object_add(sc, "runAsGroup", json_object_new_int64(s->gid));
        if (s->uid == 0)
                eng_warn(n, "security.user: 0 (root inside) is refused by the restricted standard (runAsNonRoot)");
        json_object_object_add(sc, "seccompProfile", profile);
        json_object_object_add(sc, "procMount", str("Default"));
        return sc;
}

static json_object *resources(const struct zb_policy *p, struct eng_notes *n)
{
        const struct pol_limits *l = &p->limits;
        json_object *res = json_object_new_object(), *lim = json_object_new_object();
        char buf[32];

        if (l->memory) {
                quantity(l->memory, buf, sizeof(buf));
                json_object_object_add(lim, "memory", str(buf));
        }
        if (l->cpus_milli) {
                snprintf(buf, sizeof(buf), "%llum", (unsigned long long)l->cpus_milli);
                json_object_object_add(lim, "cpu", str(buf));
        }
        uint64_t ephemeral = eng_io_k8s(p, n);
        if (ephemeral) {
                quantity(ephemeral, buf, sizeof(buf));
                json_object_object_add(lim, "ephemeral-storage", str(buf));
        }
        json_object_object_add(res, "limits", lim);
        /* requests = limits: Guaranteed QoS, no overcommit of this pod. */
        json_object_object_add(res, "requests", json_object_get(lim));
        eng_apply(n, "resources");
        /* pids, swap, cpu_time, cgroup_parent, open_files and file_size
         * when given: keytab.c's warnings. The defaults a Pod lacks: */
        if (l->pids == DEFAULT_PIDS)
                eng_warn(n, "limits.pids: the default %llu is not applied: a Pod has no per-pod process limit (the kubelet's podPidsLimit applies to every pod)",
                         DEFAULT_PIDS);
        eng_skip(n, "rlimits", "rlimits: a Pod cannot set open_files, file_size or core (the runtime's defaults apply)");
        return res;
}

static void add_volume(json_object *vols, json_object *mounts, const struct zb_policy *p,
                       const struct pol_zone *z, struct eng_notes *n)
{
        json_object *v = json_object_new_object(), *m = json_object_new_object(), *src = json_object_new_object();
        char name[64], buf[32];
        dns_label(z->name, "zone-", name, sizeof(name));
        json_object_object_add(v, "name", str(name));
        if (z->mode == ZB_ZONE_TMPFS) {
                quantity(z->size, buf, sizeof(buf));
                json_object_object_add(src, "medium", str("Memory"));
                json_object_object_add(src, "sizeLimit", str(buf));
                json_object_object_add(v, "emptyDir", src);
        } else if (p->engine.k8s_host_zones == ZB_K8S_VOL_HOSTPATH) {
                json_object_object_add(src, "path", str(z->host_path));
                json_object_object_add(src, "type", str("Directory"));
                json_object_object_add(v, "hostPath", src);
                eng_warn(n, "zone '%s': a hostPath volume, which the restricted (and baseline) Pod Security Standard refuses", z->name);
        } else if (p->engine.k8s_host_zones == ZB_K8S_VOL_EMPTYDIR) {
                if (z->size) {
                        quantity(z->size, buf, sizeof(buf));
                        json_object_object_add(src, "sizeLimit", str(buf));
                }
                json_object_object_add(v, "emptyDir", src);
                eng_warn(n, "zone '%s': an empty emptyDir; the content of %s is not in the pod", z->name, z->host_path);
        } else {
                char claim[64];
                dns_label(z->name, "zonebox-", claim, sizeof(claim));
                json_object_object_add(src, "claimName", str(claim));
                json_object_object_add(src, "readOnly", json_object_new_boolean(z->mode == ZB_ZONE_RO));
                json_object_object_add(v, "persistentVolumeClaim", src);
                eng_info(n, "zone '%s': the PersistentVolumeClaim %s must hold what %s holds (hostPath is refused by the restricted standard; --host-zones hostPath|emptyDir to choose)",
                         z->name, claim, z->host_path);
        }
        json_object_array_add(vols, v);
        json_object_object_add(m, "name", str(name));
        json_object_object_add(m, "mountPath", str(z->path));
        json_object_object_add(m, "readOnly", json_object_new_boolean(z->mode == ZB_ZONE_RO));
        json_object_array_add(mounts, m);
}

static json_object *container(const struct zb_policy *p, json_object *profile, json_object *mounts,
                              struct eng_notes *n)
{
        json_object *c = json_object_new_object();
        json_object_object_add(c, "name", str(CONTAINER_NAME));
        json_object_object_add(c, "image", str(p->image ? p->image : "IMAGE"));
        if (!p->image)
                eng_info(n, "image: not set (--image NAME or image:): the manifest says IMAGE");
        if (p->argc) {
                json_object *cmd = json_object_new_array();
                for (size_t i = 0; i < p->argc; i++)
                        json_object_array_add(cmd, str(p->argv[i]));
                json_object_object_add(c, "command", cmd);
        }
        char **env = eng_build_env(p);
        json_object *ev = json_object_new_array();
        for (size_t i = 0; env && env[i]; i++) {
                json_object *e = json_object_new_object();
                char *eq = strchr(env[i], '=');
                json_object_object_add(e, "name", json_object_new_string_len(env[i], (int)(eq - env[i])));
                json_object_object_add(e, "value", str(eq + 1));
                json_object_array_add(ev, e);
        }
        util_strv_free(env);
        json_object_object_add(c, "env", ev);
        if (p->workdir)
                json_object_object_add(c, "workingDir", str(p->workdir));
        json_object_object_add(c, "securityContext", container_security(p, profile, n));
        json_object_object_add(c, "resources", resources(p, n));
        json_object_object_add(c, "volumeMounts", mounts);
        json_object *wrap = json_object_new_array();
        json_object_array_add(wrap, c);
        return wrap;
}

static json_object *pod_spec(const struct zb_policy *p, const char *localhost, struct eng_notes *n)
{
        json_object *spec = json_object_new_object(), *psc = json_object_new_object();
        json_object *vols = json_object_new_array(), *mounts = json_object_new_array();
        const struct pol_security *s = &p->security;
        char host[64];

        json_object_object_add(spec, "restartPolicy", str("Never"));
        json_object_object_add(spec, "automountServiceAccountToken", json_object_new_boolean(false));
        json_object_object_add(spec, "enableServiceLinks", json_object_new_boolean(false));
        json_object_object_add(spec, "hostNetwork", json_object_new_boolean(p->network == ZB_NET_HOST));
        json_object_object_add(spec, "hostPID", json_object_new_boolean(false));
        json_object_object_add(spec, "hostIPC", json_object_new_boolean(false));
        json_object_object_add(spec, "shareProcessNamespace", json_object_new_boolean(false));
        /* Kubernetes user namespaces (beta since 1.30): the pod's root is not the node's. */
        json_object_object_add(spec, "hostUsers", json_object_new_boolean(false));
        eng_apply(n, "user");
        eng_info(n, "user: hostUsers: false needs user-namespace support on the nodes (Kubernetes 1.30+, a runtime that has it)");
        static const char *const own_ns[] = { "pid", "ipc", "uts", "mount", "cgroupns" };
        for (size_t i = 0; i < ARRAY_SIZE(own_ns); i++)
                eng_apply(n, own_ns[i]);
        dns_label(p->hostname ? p->hostname : DEFAULT_HOSTNAME, "", host, sizeof(host));
        json_object_object_add(spec, "hostname", str(host));
        if (p->limits.wall_time_ms) {
                json_object_object_add(spec, "activeDeadlineSeconds",
                                       json_object_new_int64((int64_t)((p->limits.wall_time_ms + 999) / 1000)));
                eng_apply(n, "wall_time");
        }
        if (!strcmp(p->engine.runtime, "gvisor") || !strcmp(p->engine.runtime, "runsc"))
                json_object_object_add(spec, "runtimeClassName", str("gvisor"));
        else if (p->engine.runtime[0])
                eng_warn(n, "runtime: %s: Kubernetes picks runtimes by RuntimeClass; none is set, the node's default runs the pod", p->engine.runtime);
        json_object_object_add(psc, "runAsNonRoot", json_object_new_boolean(s->uid != 0));
        json_object_object_add(psc, "runAsUser", json_object_new_int64(s->uid));
        json_object_object_add(psc, "runAsGroup", json_object_new_int64(s->gid));
        json_object *profile = seccomp_profile(p, localhost, n);
        json_object_object_add(psc, "seccompProfile", json_object_get(profile));
        json_object_object_add(spec, "securityContext", psc);
        struct pol_zone scratch[2];
        size_t n_scratch = eng_scratch_zones(p, scratch);
        for (size_t i = 0; i < p->n_zones + n_scratch; i++)
                add_volume(vols, mounts, p, i < p->n_zones ? &p->zones[i] : &scratch[i - p->n_zones], n);
        json_object_object_add(spec, "containers", container(p, profile, mounts, n));
        json_object_object_add(spec, "volumes", vols);
        if (p->network == ZB_NET_HOST)
                eng_skip(n, "net", "network: host: hostNetwork, which the baseline and restricted standards refuse");
        else
                eng_apply(n, "net");
        return spec;
}

static json_object *metadata(const char *name, json_object *labels)
{
        json_object *m = json_object_new_object();
        json_object_object_add(m, "name", str(name));
        json_object_object_add(m, "labels", labels);
        return m;
}

static json_object *labels(const char *name)
{
        json_object *l = json_object_new_object();
        json_object_object_add(l, "app.kubernetes.io/name", str("zonebox"));
        json_object_object_add(l, LABEL_KEY, str(name));
        return l;
}

static json_object *network_policy(const char *name)
{
        json_object *np = json_object_new_object(), *spec = json_object_new_object();
        json_object *sel = json_object_new_object(), *types = json_object_new_array();
        char npname[80];
        snprintf(npname, sizeof(npname), "%s-deny-all", name);
        json_object_object_add(np, "apiVersion", str("networking.k8s.io/v1"));
        json_object_object_add(np, "kind", str("NetworkPolicy"));
        json_object_object_add(np, "metadata", metadata(npname, labels(name)));
        json_object *ml = json_object_new_object();
        json_object_object_add(ml, LABEL_KEY, str(name));
        json_object_object_add(sel, "matchLabels", ml);
        json_object_object_add(spec, "podSelector", sel);
        /* Both types listed and no rules: nothing in, nothing out. */
        json_object_array_add(types, str("Ingress"));
        json_object_array_add(types, str("Egress"));
        json_object_object_add(spec, "policyTypes", types);
        json_object_object_add(spec, "ingress", json_object_new_array());
        json_object_object_add(spec, "egress", json_object_new_array());
        json_object_object_add(np, "spec", spec);
        return np;
}

static void annotate(json_object *meta, const struct eng_notes *n)
{
        if (!n->n_warn)
                return;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return;
        for (size_t i = 0; i < n->n_warn; i++)
                fprintf(f, "%s%s", i ? "\n" : "", n->warn[i]);
        fclose(f);
        json_object *a = json_object_new_object();
        json_object_object_add(a, "zonebox.dev/not-expressed", str(buf));
        json_object_object_add(meta, "annotations", a);
        free(buf);
}

int eng_k8s_manifest(const struct zb_policy *p, const char *localhost, json_object **out,
                     struct eng_notes *n, struct zb_error *err)
{
        char name[64];
        (void)err;
        dns_label(p->hostname ? p->hostname : DEFAULT_HOSTNAME, "", name, sizeof(name));
        eng_common_layers(p, n);
        json_object *spec = pod_spec(p, localhost, n);
        pol_unused_each(p, ZB_BACKEND_KUBERNETES, false, eng_warn_line, n); /* keytab.c: in the annotation too */
        json_object *obj = json_object_new_object(), *meta = metadata(name, labels(name));
        if (p->engine.k8s_kind == ZB_K8S_JOB) {
                json_object *job = json_object_new_object(), *tmpl = json_object_new_object();
                json_object_object_add(obj, "apiVersion", str("batch/v1"));
                json_object_object_add(obj, "kind", str("Job"));
                json_object_object_add(job, "backoffLimit", json_object_new_int(0));
                json_object_object_add(job, "ttlSecondsAfterFinished", json_object_new_int(600));
                json_object *ads;
                if (json_object_object_get_ex(spec, "activeDeadlineSeconds", &ads))
                        json_object_object_add(job, "activeDeadlineSeconds", json_object_get(ads));
                json_object *tmeta = json_object_new_object();
                json_object_object_add(tmeta, "labels", labels(name));
                json_object_object_add(tmpl, "metadata", tmeta);
                json_object_object_add(tmpl, "spec", spec);
                json_object_object_add(job, "template", tmpl);
                json_object_object_add(obj, "metadata", meta);
                json_object_object_add(obj, "spec", job);
        } else {
                json_object_object_add(obj, "apiVersion", str("v1"));
                json_object_object_add(obj, "kind", str("Pod"));
                json_object_object_add(obj, "metadata", meta);
                json_object_object_add(obj, "spec", spec);
        }
        annotate(meta, n);
        json_object *list = json_object_new_object(), *items = json_object_new_array();
        json_object_object_add(list, "apiVersion", str("v1"));
        json_object_object_add(list, "kind", str("List"));
        json_object_object_add(list, "metadata", json_object_new_object());
        json_object_array_add(items, obj);
        if (p->network != ZB_NET_HOST) {
                json_object_array_add(items, network_policy(name));
                eng_info(n, "network: the NetworkPolicy is enforced only by a network plugin that implements it; the pod keeps its loopback");
        }
        json_object_object_add(list, "items", items);
        *out = list;
        return 0;
}
