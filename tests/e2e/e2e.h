/* Helpers for the end-to-end tests: run the sluice binary (SLUICE_BIN) as
 * a child process with its output captured in files, and read results
 * back from its SQLite database. */
#ifndef SL_E2E_H
#define SL_E2E_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct e2e_run {
    int status; /* exit status, or 128 + signal */
    char *out, *err;
};

static char e2e_dir[256];

static inline void e2e_tmpdir(void)
{
    snprintf(e2e_dir, sizeof(e2e_dir), "/tmp/sluice-e2e-XXXXXX");
    cr_assert_not_null(mkdtemp(e2e_dir));
}

static inline void e2e_rmdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e2e_dir);
    cr_assert_eq(system(cmd), 0);
}

static inline const char *e2e_path(const char *name)
{
    static char buf[32][512];
    static int next;
    char *p = buf[next++ % 32];
    snprintf(p, 512, "%s/%s", e2e_dir, name);
    return p;
}

/* Writes body to NAME in the test's directory; returns its path (one of
 * e2e_path's buffers). */
static inline const char *e2e_write_file(const char *name, const char *body)
{
    const char *path = e2e_path(name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(body, f);
    fclose(f);
    return path;
}

static inline char *e2e_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static inline const char *e2e_bin(void)
{
    const char *bin = getenv("SLUICE_BIN");
    cr_assert_not_null(bin, "SLUICE_BIN is not set (run the tests through meson)");
    return bin;
}

/* Starts sluice with argv (NULL-terminated, without the program name),
 * its output going to NAME.out and NAME.err in the test's directory. */
static inline pid_t e2e_spawn_as(const char *name, const char *const *args)
{
    const char *argv[64];
    int n = 0;
    char out_path[512], err_path[512];
    snprintf(out_path, sizeof(out_path), "%s/%s.out", e2e_dir, name);
    snprintf(err_path, sizeof(err_path), "%s/%s.err", e2e_dir, name);
    argv[n++] = e2e_bin();
    for (; *args && n < 63; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    unlink(out_path); /* a previous process's lines must not be read */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out, 1);
        dup2(err, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static inline pid_t e2e_spawn(const char *const *args)
{
    return e2e_spawn_as("cmd", args);
}

static inline struct e2e_run e2e_wait(pid_t pid)
{
    struct e2e_run r = {0};
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r.out = e2e_slurp(e2e_path("cmd.out"));
    r.err = e2e_slurp(e2e_path("cmd.err"));
    return r;
}

static inline struct e2e_run e2e_run(const char *const *args)
{
    return e2e_wait(e2e_spawn(args));
}

static inline void e2e_free(struct e2e_run *r)
{
    free(r->out);
    free(r->err);
}

/* Starts a server command (`sluice mock` or `sluice serve`) as NAME and
 * returns its port, read from the "listening on http://..." line it prints
 * on stdout. */
static inline int e2e_start_server(const char *name, const char *const *args, pid_t *pid_out)
{
    *pid_out = e2e_spawn_as(name, args);
    /* local paths: e2e_path's few buffers are reused, and a caller may
     * still hold one (its --db path, say) */
    char out_path[600], err_path[600];
    snprintf(out_path, sizeof(out_path), "%s/%s.out", e2e_dir, name);
    snprintf(err_path, sizeof(err_path), "%s/%s.err", e2e_dir, name);
    for (int i = 0; i < 2000; i++) { /* 20 s: ASan on a loaded machine starts slowly */
        char *out = e2e_slurp(out_path);
        /* the text line, or with --log-format json the "listening" event */
        static const char text[] = "listening on http://127.0.0.1:";
        static const char json[] = "\"event\":\"listening\",\"url\":\"http://127.0.0.1:";
        const char *at = strstr(out, text), *at_json = strstr(out, json);
        int port = at ? atoi(at + strlen(text)) : at_json ? atoi(at_json + strlen(json)) : 0;
        free(out);
        if (port > 0)
            return port;
        int ws;
        if (waitpid(*pid_out, &ws, WNOHANG) == *pid_out)
            cr_assert_fail("sluice %s exited at start: %s", args[0], e2e_slurp(err_path));
        usleep(10000);
    }
    cr_assert_fail("sluice %s did not start", args[0]);
    return -1;
}

/* `sluice mock --listen 127.0.0.1:0 ARGS...` as "mock". */
static inline int e2e_start_mock_as(const char *name, const char *const *extra, pid_t *pid_out)
{
    const char *args[40] = {"mock", "--listen", "127.0.0.1:0"};
    int n = 3;
    for (; extra && *extra && n < 39; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    return e2e_start_server(name, args, pid_out);
}

static inline int e2e_start_mock(const char *const *extra, pid_t *pid_out)
{
    return e2e_start_mock_as("mock", extra, pid_out);
}

/* Every NAME.err of the test, for a failure message. */
static inline char *e2e_all_stderr(void)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "tail -n 40 '%s'/*.err > '%s/all-stderr' 2>&1", e2e_dir, e2e_dir);
    if (system(cmd) != 0)
        return strdup("");
    return e2e_slurp(e2e_path("all-stderr"));
}

/* Waits for a server already told to stop; asserts it exited with 0. */
static inline void e2e_wait_clean(pid_t pid)
{
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
              "the server did not exit cleanly (status %d, signal %d): %s",
              WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, WIFSIGNALED(ws) ? WTERMSIG(ws) : 0,
              e2e_all_stderr());
}

static inline void e2e_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    e2e_wait_clean(pid);
}

/* The number after "key": in a flat JSON object; asserts it is there. */
static inline double e2e_json_num(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(json, pat);
    cr_assert_not_null(p, "key %s missing from %s", key, json);
    return strtod(p + strlen(pat), NULL);
}

static inline int e2e_count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, len) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

static inline int e2e_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* Runs one query returning a single integer. */
static inline long long e2e_sql_int(const char *db_path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s returned no row", sql);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static inline int e2e_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

#endif
