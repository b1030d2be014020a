/* Helpers of the differential tests: reading every file of a directory
 * (the fuzz seed corpora, the JSON conformance set). */
#ifndef SL_TEST_DIFF_SUPPORT_H
#define SL_TEST_DIFF_SUPPORT_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SL_SOURCE_ROOT
#error "SL_SOURCE_ROOT must name the source tree (tests/meson.build sets it)"
#endif

struct diff_file {
    char name[256];
    char *data;
    size_t len;
};

static int diff_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct diff_file *)a)->name, ((const struct diff_file *)b)->name);
}

/* Reads every regular file of SL_SOURCE_ROOT/rel, sorted by name.
 * Returns the count (0 if the directory is missing); *out is malloc'ed. */
static size_t diff_read_dir(const char *rel, struct diff_file **out)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", SL_SOURCE_ROOT, rel);
    *out = NULL;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            *out = realloc(*out, cap * sizeof(**out));
        }
        struct diff_file *df = &(*out)[n++];
        snprintf(df->name, sizeof(df->name), "%s", e->d_name);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        df->data = malloc((size_t)size + 1);
        df->len = fread(df->data, 1, (size_t)size, f);
        df->data[df->len] = '\0';
        fclose(f);
    }
    closedir(d);
    if (n)
        qsort(*out, n, sizeof(**out), diff_name_cmp);
    return n;
}

static void diff_free_files(struct diff_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(files[i].data);
    free(files);
}

/* A deterministic generator (xorshift64), so every run tests the same inputs. */
static inline uint64_t diff_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif
