/* File access through the preopens: files OP PATH [TEXT] prints
 * "OP PATH: ok DATA" or "OP PATH: failed ERRNO-NAME" and exits 0 either
 * way, so the test reads the answer, not a crash. OP: read, write, list;
 * "files cat -" copies stdin to stdout and stderr ("err: " before). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int failed(const char *op, const char *path)
{
        printf("%s %s: failed %s\n", op, path, strerror(errno));
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 3)
                return 2;
        if (strcmp(argv[1], "cat") == 0) {
                char line[256];
                while (fgets(line, sizeof(line), stdin)) {
                        fputs(line, stdout);
                        fprintf(stderr, "err: %s", line);
                }
                return 0;
        }
        const char *op = argv[1], *path = argv[2];
        if (strcmp(op, "read") == 0) {
                char buf[128] = { 0 };
                FILE *f = fopen(path, "r");
                if (!f)
                        return failed(op, path);
                size_t n = fread(buf, 1, sizeof(buf) - 1, f);
                buf[strcspn(buf, "\n")] = '\0';
                printf("%s %s: ok %.*s\n", op, path, (int)n, buf);
                return 0;
        }
        if (strcmp(op, "write") == 0) {
                FILE *f = fopen(path, "w");
                if (!f)
                        return failed(op, path);
                fputs(argc > 3 ? argv[3] : "written", f);
                if (fclose(f) != 0)
                        return failed(op, path);
                printf("%s %s: ok\n", op, path);
                return 0;
        }
        if (strcmp(op, "list") == 0) {
                DIR *d = opendir(path);
                if (!d)
                        return failed(op, path);
                printf("%s %s: ok", op, path);
                for (struct dirent *e; (e = readdir(d));)
                        if (e->d_name[0] != '.')
                                printf(" %s", e->d_name);
                printf("\n");
                closedir(d);
                return 0;
        }
        return 2;
}
