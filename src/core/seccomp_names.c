/* Seccomp's architecture, action and comparison names (seccomp_names.h): the one table
 * the JSON profile reader (src/ns/seccomp_json.c) and the engines' profile
 * writer (src/engines/seccomp.c) share. Pure data and lookups. */
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>

#include "seccomp_names.h"
#include "util.h"

/* Arches named in JSON profiles: libseccomp's constant and Docker's name
 * (includes.arches / excludes.arches use the latter). */
const struct sc_arch sc_arches[] = {
        { "SCMP_ARCH_X86", "x86", SCMP_ARCH_X86 },
        { "SCMP_ARCH_X86_64", "amd64", SCMP_ARCH_X86_64 },
        { "SCMP_ARCH_X32", "x32", SCMP_ARCH_X32 },
        { "SCMP_ARCH_ARM", "arm", SCMP_ARCH_ARM },
        { "SCMP_ARCH_AARCH64", "arm64", SCMP_ARCH_AARCH64 },
        { "SCMP_ARCH_MIPS", "mips", SCMP_ARCH_MIPS },
        { "SCMP_ARCH_MIPS64", "mips64", SCMP_ARCH_MIPS64 },
        { "SCMP_ARCH_MIPS64N32", "mips64n32", SCMP_ARCH_MIPS64N32 },
        { "SCMP_ARCH_MIPSEL", "mipsle", SCMP_ARCH_MIPSEL },
        { "SCMP_ARCH_MIPSEL64", "mipsel64", SCMP_ARCH_MIPSEL64 },
        { "SCMP_ARCH_MIPSEL64N32", "mips3l64n32", SCMP_ARCH_MIPSEL64N32 },
        { "SCMP_ARCH_PPC", "ppc", SCMP_ARCH_PPC },
        { "SCMP_ARCH_PPC64", "ppc64", SCMP_ARCH_PPC64 },
        { "SCMP_ARCH_PPC64LE", "ppc64le", SCMP_ARCH_PPC64LE },
        { "SCMP_ARCH_S390", "s390", SCMP_ARCH_S390 },
        { "SCMP_ARCH_S390X", "s390x", SCMP_ARCH_S390X },
        { "SCMP_ARCH_PARISC", "parisc", SCMP_ARCH_PARISC },
        { "SCMP_ARCH_PARISC64", "parisc64", SCMP_ARCH_PARISC64 },
        { "SCMP_ARCH_RISCV64", "riscv64", SCMP_ARCH_RISCV64 },
};
const size_t sc_n_arches = ARRAY_SIZE(sc_arches);

/* The first name of an action is the one written: SCMP_ACT_KILL is the
 * older name of SCMP_ACT_KILL_THREAD, read but not written. */
static const struct sc_action actions[] = {
        { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
        { "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false },
        { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
        { "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
        { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true },
        { "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true },
        { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
        { "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
};

static const struct {
        const char *name;
        enum scmp_compare op;
} ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

const struct sc_arch *sc_arch_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(sc_arches); i++)
                if (strcmp(sc_arches[i].scmp, name) == 0)
                        return &sc_arches[i];
        return NULL;
}

const struct sc_arch *sc_arch_of(uint32_t token)
{
        for (size_t i = 0; i < ARRAY_SIZE(sc_arches); i++)
                if (sc_arches[i].token == token)
                        return &sc_arches[i];
        return NULL;
}

bool sc_arch_named(const char *name, uint32_t token)
{
        for (size_t i = 0; i < ARRAY_SIZE(sc_arches); i++)
                if (sc_arches[i].token == token &&
                    (strcmp(sc_arches[i].docker, name) == 0 || strcmp(sc_arches[i].scmp, name) == 0))
                        return true;
        return false;
}

const struct sc_action *sc_action_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
                if (strcmp(actions[i].name, name) == 0)
                        return &actions[i];
        return NULL;
}

const char *sc_action_name(uint32_t action)
{
        for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
                if ((actions[i].action & SECCOMP_RET_ACTION_FULL) == (action & SECCOMP_RET_ACTION_FULL))
                        return actions[i].name;
        return NULL;
}

int sc_op_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
                if (strcmp(ops[i].name, name) == 0)
                        return (int)ops[i].op;
        return -1;
}

const char *sc_op_name(unsigned op)
{
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
                if ((unsigned)ops[i].op == op)
                        return ops[i].name;
        return NULL;
}
