/* replay.c — runs a libFuzzer target's LLVMFuzzerTestOneInput over every
 * file of its seed corpus (and kept crash reproducers), so `make check`
 * exercises each fuzz target with gcc and no libFuzzer.
 *
 * The corpus is found from the program name: replay_<name> reads
 * $PG_SRCDIR/tests/fuzz/corpus/<name>/ (or the directories given as
 * arguments). One TAP line per input; a crash fails the whole run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_ok;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf)
        return -1;
    /* exact-size copy so an overread is caught by ASan builds */
    uint8_t *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    printf("ok %d - %s\n", ++n_ok, path);
    return 0;
}

static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (replay_file(path) == 0)
            n++;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int total = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            int n = replay_dir(argv[i]);
            total += n < 0 ? (replay_file(argv[i]) == 0) : n;
        }
    } else {
        const char *base = strrchr(argv[0], '/');
        base = base ? base + 1 : argv[0];
        const char *name = strncmp(base, "replay_", 7) == 0 ? base + 7 : base;
        const char *src = getenv("PG_SRCDIR");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src ? src : ".", name);
        int n = replay_dir(dir);
        if (n <= 0) {
            printf("not ok 1 - no corpus in %s\n1..1\n", dir);
            return 1;
        }
        total = n;
    }
    printf("1..%d\n", n_ok);
    return total > 0 ? 0 : 1;
}
