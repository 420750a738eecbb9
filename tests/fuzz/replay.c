/* main() for the fuzz targets without libFuzzer: runs each FILE, or every
 * file in each DIR, through LLVMFuzzerTestOneInput once. The corpus in
 * tests/fuzz/corpus/ thereby runs as a regression test in any build (ASan
 * with gcc, coverage), and a crash input can be replayed under gdb. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned n_inputs;

static int run_file(const char *path)
{
        FILE *f = fopen(path, "rbe");
        struct stat st;
        if (!f || fstat(fileno(f), &st) < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                if (f)
                        fclose(f);
                return -1;
        }
        /* One byte more than the size: a file that grew is read short, fine. */
        size_t cap = (size_t)st.st_size + 1;
        uint8_t *buf = malloc(cap);
        size_t len = buf ? fread(buf, 1, cap, f) : 0;
        fclose(f);
        if (!buf) {
                fprintf(stderr, "replay: %s: out of memory\n", path);
                return -1;
        }
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        n_inputs++;
        return 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_path(const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        if (!S_ISDIR(st.st_mode))
                return run_file(path);
        struct dirent **names;
        int n = scandir(path, &names, NULL, name_cmp), r = 0;
        if (n < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.' && r == 0) {
                        char *p = NULL;
                        if (asprintf(&p, "%s/%s", path, names[i]->d_name) < 0)
                                r = -1;
                        else
                                r = run_path(p);
                        free(p);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv)
{
        int r = 0;
        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc && r == 0; i++)
                r = run_path(argv[i]);
        printf("replay %s: %u inputs%s\n", argv[0], n_inputs, r ? ", stopped by an error" : "");
        return r ? 1 : 0;
}
