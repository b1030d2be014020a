/* `sluice keys create|list|show|update|rotate|revoke|usage`: the virtual
 * keys of a database (store/keys.h), the same operations as the admin API.
 * Commands that change keys migrate the database as serve does; the ones
 * that only read never change it (an older schema is refused with the
 * command to run). A secret is printed once, by create and rotate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "store/keys.h"
#include "store/store.h"

static const char usage[] =
    "usage: sluice keys COMMAND [ID|NAME] [options]\n"
    "\n"
    "Manages the gateway's virtual keys, kept in the database (only a hash of\n"
    "each secret is stored).\n"
    "\n"
    "commands:\n"
    "  create --name N [fields]   a new key; prints its secret once\n"
    "  list                       every key: id, name, team, prefix, limits, budget, state\n"
    "  show ID|NAME               one key\n"
    "  update ID|NAME [fields]    change the fields given (and --enable / --disable)\n"
    "  rotate ID|NAME             a new secret (printed once); the old one stops working\n"
    "  revoke ID|NAME             revoke the key for good\n"
    "  usage ID|NAME              spend, budget, requests and tokens of the current period\n"
    "\n"
    "fields (create, update):\n"
    "  --name N             unique name (1 to 63 printable bytes)\n"
    "  --team T             team, for grouping and reports\n"
    "  --models LIST        allowed models: comma-separated globs ('gpt-4o*,claude-*'); '' = any\n"
    "  --rpm N              requests per minute (0 = no limit)\n"
    "  --tpm N              tokens per minute (0 = no limit)\n"
    "  --max-parallel N     requests in flight at once (0 = no limit)\n"
    "  --budget USD         spend allowed per period (0 = no budget)\n"
    "  --period P           budget period: total (default), daily, weekly or monthly (UTC)\n"
    "  --expires WHEN       YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD, +30d, +12h, +90m, or never\n"
    "  --metadata JSON      a JSON object kept with the key (at most 1023 bytes)\n"
    "  --enable, --disable  (update) switch a key on or off; a revoked key stays revoked\n"
    "\n"
    "options:\n"
    "  --db URL    sqlite:PATH, PATH (default sluice.db) or\n"
    "              postgresql://USER:PASSWORD@HOST:PORT/DB\n"
    "  --json      print JSON (the admin API's objects) instead of text\n"
    "  -h, --help  this help\n";

enum {
    F_DB = 1,
    F_JSON,
    F_HELP,
    F_NAME,
    F_TEAM,
    F_MODELS,
    F_RPM,
    F_TPM,
    F_MAX_PARALLEL,
    F_BUDGET,
    F_PERIOD,
    F_EXPIRES,
    F_METADATA,
    F_ENABLE,
    F_DISABLE,
};
static const struct sl_flag flags[] = {
    {"--db", 1, F_DB},
    {"--json", 0, F_JSON},
    {"--help", 0, F_HELP},
    {"-h", 0, F_HELP},
    {"--name", 1, F_NAME},
    {"--team", 1, F_TEAM},
    {"--models", 1, F_MODELS},
    {"--rpm", 1, F_RPM},
    {"--tpm", 1, F_TPM},
    {"--max-parallel", 1, F_MAX_PARALLEL},
    {"--budget", 1, F_BUDGET},
    {"--period", 1, F_PERIOD},
    {"--expires", 1, F_EXPIRES},
    {"--metadata", 1, F_METADATA},
    {"--enable", 0, F_ENABLE},
    {"--disable", 0, F_DISABLE},
    {NULL, 0, 0},
};

struct opts {
    const char *action, *target, *db;
    int json;
    struct sl_key_record rec;
    unsigned mask;
};

/* Copies a flag's text into a field of the record, or says it is too long. */
static int set_text(char *dst, size_t size, const char *flag, const char *v)
{
    if (strlen(v) >= size) {
        sl_usage_error("keys", "%s is longer than %zu bytes", flag, size - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* "a, b ,c" -> "a,b,c": the stored list has no blanks around patterns. */
static int set_models(char *dst, const char *v)
{
    char tmp[SL_KEY_MODELS_MAX + 1];
    size_t n = 0;
    for (const char *p = v; *p; p++)
        if (*p != ' ' && *p != '\t') {
            if (n >= SL_KEY_MODELS_MAX) {
                sl_usage_error("keys", "--models is longer than %d bytes", SL_KEY_MODELS_MAX);
                return -1;
            }
            tmp[n++] = *p;
        }
    tmp[n] = '\0';
    if (strstr(tmp, ",,") || tmp[0] == ',' || (n && tmp[n - 1] == ',')) {
        sl_usage_error("keys", "--models has an empty pattern in '%s'", v);
        return -1;
    }
    memcpy(dst, tmp, n + 1);
    return 0;
}

static int field(struct opts *o, int id, const char *v)
{
    struct sl_key_record *r = &o->rec;
    double usd;
    switch (id) {
    case F_NAME:
        o->mask |= SL_KEY_F_NAME;
        return set_text(r->name, sizeof(r->name), "--name", v);
    case F_TEAM:
        o->mask |= SL_KEY_F_TEAM;
        return set_text(r->team, sizeof(r->team), "--team", v);
    case F_MODELS:
        o->mask |= SL_KEY_F_MODELS;
        return set_models(r->models, v);
    case F_RPM:
        o->mask |= SL_KEY_F_RPM;
        return sl_parse_unsigned("keys", "--rpm", v, 0, 4294967295u, &r->rpm);
    case F_TPM:
        o->mask |= SL_KEY_F_TPM;
        return sl_parse_unsigned("keys", "--tpm", v, 0, 4294967295u, &r->tpm);
    case F_MAX_PARALLEL:
        o->mask |= SL_KEY_F_MAX_PARALLEL;
        return sl_parse_unsigned("keys", "--max-parallel", v, 0, 4294967295u, &r->max_parallel);
    case F_BUDGET:
        o->mask |= SL_KEY_F_BUDGET;
        if (sl_parse_double("keys", "--budget", v, 0, 1e12, &usd) != 0)
            return -1;
        r->budget_usd = usd;
        return 0;
    case F_PERIOD:
        o->mask |= SL_KEY_F_PERIOD;
        if (sl_key_period_parse(v, strlen(v), &r->period) != 0) {
            sl_usage_error("keys", "--period must be total, daily, weekly or monthly, got '%s'", v);
            return -1;
        }
        return 0;
    case F_EXPIRES:
        o->mask |= SL_KEY_F_EXPIRES;
        if (strcmp(v, "never") == 0) {
            r->expires_us = 0;
            return 0;
        }
        if (sl_key_time_parse(v, strlen(v), sl_wall_us(), &r->expires_us) != 0) {
            sl_usage_error("keys",
                           "--expires must be YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD, +Nd, +Nh, +Nm, "
                           "+Ns or never, got '%s'",
                           v);
            return -1;
        }
        return 0;
    case F_METADATA:
        o->mask |= SL_KEY_F_METADATA;
        return set_text(r->metadata, sizeof(r->metadata), "--metadata", v);
    case F_ENABLE:
    case F_DISABLE:
        if (o->mask & SL_KEY_F_ENABLED) {
            sl_usage_error("keys", "give --enable or --disable once");
            return -1;
        }
        o->mask |= SL_KEY_F_ENABLED;
        r->enabled = id == F_ENABLE;
        return 0;
    }
    return -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
    const char *v;
    int id, i = 0;
    o->db = SL_DEFAULT_DB;
    sl_key_record_init(&o->rec);
    while ((id = sl_args_next(argc, argv, &i, flags, "keys", 1, &v)) > 0) {
        if (id == F_DB) {
            o->db = v;
        } else if (id == F_JSON) {
            o->json = 1;
        } else if (id == F_HELP) {
            fputs(usage, stdout);
            return 1;
        } else if (id == 'P' && o->action == NULL) {
            o->action = v;
        } else if (id == 'P' && o->target == NULL) {
            o->target = v;
        } else if (id == 'P') {
            sl_usage_error("keys", "unexpected argument '%s'", v);
            return -1;
        } else if (field(o, id, v) != 0) {
            return -1;
        }
    }
    if (id < 0)
        return -1;
    static const char *const actions[] = {"create", "list",   "show",  "update",
                                          "rotate", "revoke", "usage", NULL};
    int known = 0;
    for (int k = 0; o->action && actions[k]; k++)
        known |= strcmp(o->action, actions[k]) == 0;
    if (!known) {
        sl_usage_error("keys", "expected create, list, show, update, rotate, revoke or usage%s%s%s",
                       o->action ? ", got '" : "", o->action ? o->action : "",
                       o->action ? "'" : "");
        return -1;
    }
    int creating = strcmp(o->action, "create") == 0, listing = strcmp(o->action, "list") == 0;
    if ((creating || listing) && o->target) {
        sl_usage_error("keys", "%s takes no ID or NAME", o->action);
        return -1;
    }
    if (!creating && !listing && o->target == NULL) {
        sl_usage_error("keys", "%s needs the key's ID or NAME", o->action);
        return -1;
    }
    if (creating && !(o->mask & SL_KEY_F_NAME)) {
        sl_usage_error("keys", "create needs --name");
        return -1;
    }
    if (creating && (o->mask & SL_KEY_F_ENABLED)) {
        sl_usage_error("keys", "--enable and --disable are for update");
        return -1;
    }
    if (!creating && strcmp(o->action, "update") != 0 && o->mask) {
        sl_usage_error("keys", "%s takes no key fields (they are for create and update)",
                       o->action);
        return -1;
    }
    if (strcmp(o->action, "update") == 0 && o->mask == 0) {
        sl_usage_error("keys", "update needs at least one field to change");
        return -1;
    }
    char err[256];
    if (o->mask && sl_key_record_check(&o->rec, o->mask, err, sizeof(err)) != 0) {
        sl_usage_error("keys", "%s", err);
        return -1;
    }
    return 0;
}

/* ---- output ---------------------------------------------------------------- */

static const char *state_of(const struct sl_key_record *r, int64_t now)
{
    return sl_key_state_name(sl_key_record_state(r, now));
}

static void limit_text(char *out, size_t size, unsigned v)
{
    if (v)
        snprintf(out, size, "%u", v);
    else
        snprintf(out, size, "-");
}

static void budget_text(char *out, size_t size, const struct sl_key_record *r)
{
    if (r->budget_usd > 0)
        snprintf(out, size, "$%.2f %s", r->budget_usd, sl_key_period_name(r->period));
    else
        snprintf(out, size, "none");
}

static void time_text(char *out, int64_t us, const char *none)
{
    if (us)
        sl_key_time_iso(us, out);
    else
        snprintf(out, 21, "%s", none);
}

static void print_record(const struct sl_key_record *r)
{
    char budget[64], exp[21], rev[21], created[21], updated[21], rpm[16], tpm[16], par[16];
    budget_text(budget, sizeof(budget), r);
    time_text(exp, r->expires_us, "never");
    time_text(rev, r->revoked_us, "");
    time_text(created, r->created_us, "");
    time_text(updated, r->updated_us, "");
    limit_text(rpm, sizeof(rpm), r->rpm);
    limit_text(tpm, sizeof(tpm), r->tpm);
    limit_text(par, sizeof(par), r->max_parallel);
    printf("id            %s\n", r->id);
    printf("name          %s\n", r->name);
    printf("team          %s\n", r->team[0] ? r->team : "-");
    printf("prefix        %s...\n", r->prefix);
    printf("models        %s\n", r->models[0] ? r->models : "any");
    printf("rpm           %s\n", rpm);
    printf("tpm           %s\n", tpm);
    printf("max parallel  %s\n", par);
    printf("budget        %s\n", budget);
    printf("expires       %s\n", exp);
    printf("metadata      %s\n", r->metadata);
    printf("state         %s%s%s\n", state_of(r, sl_wall_us()), r->revoked_us ? " at " : "", rev);
    printf("created       %s\n", created);
    printf("updated       %s\n", updated);
}

/* The record as JSON, with the secret when there is one. */
static int print_json(const struct sl_key_record *r, const char *secret)
{
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    int rc = sl_key_record_json(r, &b);
    if (rc == 0 && secret) {
        b.len--; /* reopen the object */
        char tail[SL_KEY_SECRET_LEN + 32];
        snprintf(tail, sizeof(tail), ",\"secret\":\"%s\"}", secret);
        rc = sl_buf_append(&b, tail, strlen(tail));
    }
    if (rc == 0)
        printf("%s\n", b.ptr);
    sl_buf_release(&b);
    return rc;
}

static void print_secret(const char *secret)
{
    printf("secret        %s\n", secret);
    printf("\nThis is the only time the secret is shown: it will not be shown again.\n"
           "sluice keeps only its SHA-256. Store it now.\n");
}

struct list_ctx {
    int json, n;
    int64_t now;
    struct sl_buf *buf;
};

static int list_one(const struct sl_key_record *r, const struct sl_key_usage *u, void *arg)
{
    (void)u;
    struct list_ctx *c = arg;
    if (c->json) {
        int rc = sl_buf_append(c->buf, c->n ? "," : "", c->n ? 1 : 0);
        c->n++;
        return rc ? rc : sl_key_record_json(r, c->buf);
    }
    char budget[64], rpm[16], tpm[16], par[16];
    budget_text(budget, sizeof(budget), r);
    limit_text(rpm, sizeof(rpm), r->rpm);
    limit_text(tpm, sizeof(tpm), r->tpm);
    limit_text(par, sizeof(par), r->max_parallel);
    if (c->n++ == 0)
        printf("%-20s  %-20s  %-12s  %-15s  %7s  %9s  %5s  %-18s  %s\n", "ID", "NAME", "TEAM",
               "PREFIX", "RPM", "TPM", "PAR", "BUDGET", "STATE");
    printf("%-20s  %-20s  %-12s  %-12s...  %7s  %9s  %5s  %-18s  %s\n", r->id, r->name,
           r->team[0] ? r->team : "-", r->prefix, rpm, tpm, par, budget, state_of(r, c->now));
    return 0;
}

static void print_usage(const struct sl_key_record *r, const struct sl_key_usage *u, int json)
{
    char start[21], end[21];
    int total = r->period == SL_KEY_TOTAL;
    int has_budget = r->budget_usd > 0;
    double remaining = has_budget ? r->budget_usd - u->usd : 0;
    if (remaining < 0)
        remaining = 0;
    sl_key_time_iso(u->period_start_us, start);
    if (!total)
        sl_key_time_iso(u->period_end_us, end);
    if (json) {
        printf("{\"id\":\"%s\",\"object\":\"gateway.key.usage\",\"budget_period\":\"%s\","
               "\"period_start\":%s%s%s,\"period_end\":%s%s%s,\"spend_usd\":%.17g,",
               r->id, sl_key_period_name(r->period), total ? "" : "\"", total ? "null" : start,
               total ? "" : "\"", total ? "" : "\"", total ? "null" : end, total ? "" : "\"",
               u->usd);
        if (has_budget)
            printf("\"budget_usd\":%.17g,\"remaining_usd\":%.17g,", r->budget_usd, remaining);
        else
            printf("\"budget_usd\":null,\"remaining_usd\":null,");
        printf("\"requests\":%llu,\"prompt_tokens\":%llu,\"completion_tokens\":%llu}\n",
               (unsigned long long)u->requests, (unsigned long long)u->prompt_tokens,
               (unsigned long long)u->completion_tokens);
        return;
    }
    printf("key           %s (%s)\n", r->id, r->name);
    if (total)
        printf("period        total (since the key was created)\n");
    else
        printf("period        %s, %s to %s (UTC)\n", sl_key_period_name(r->period), start, end);
    printf("spend         $%.6f\n", u->usd);
    if (has_budget)
        printf("budget        $%.2f\nremaining     $%.6f\n", r->budget_usd, remaining);
    else
        printf("budget        none\n");
    printf("requests      %llu\n", (unsigned long long)u->requests);
    printf("tokens        %llu prompt, %llu completion\n", (unsigned long long)u->prompt_tokens,
           (unsigned long long)u->completion_tokens);
}

/* ---- the command ----------------------------------------------------------- */

static int run(struct opts *o, struct sl_keydb *db, char *err, size_t err_size)
{
    struct sl_key_record rec;
    char secret[SL_KEY_SECRET_LEN + 1];
    const char *a = o->action;
    int rc;
    if (strcmp(a, "create") == 0) {
        rc = sl_key_create(db, &o->rec, secret, err, err_size);
        if (rc == 0 && o->json)
            rc = print_json(&o->rec, secret);
        else if (rc == 0)
            print_record(&o->rec), print_secret(secret);
        return rc;
    }
    if (strcmp(a, "list") == 0) {
        struct sl_buf b;
        sl_buf_init(&b, 64u << 20);
        struct list_ctx c = {.json = o->json, .now = sl_wall_us(), .buf = &b};
        rc = sl_buf_append(&b, "{\"object\":\"list\",\"data\":[", 25);
        if (rc == 0)
            rc = sl_key_load_all(db, c.now, list_one, &c, err, err_size);
        if (rc == 0 && o->json && sl_buf_append(&b, "]}", 2) == 0)
            printf("%s\n", b.ptr);
        else if (rc == 0 && c.n == 0)
            printf("no keys in %s (create one with: sluice keys create --name NAME)\n",
                   sl_keydb_path(db));
        sl_buf_release(&b);
        return rc;
    }
    if (strcmp(a, "usage") == 0) {
        struct sl_key_usage u;
        rc = sl_key_usage(db, o->target, sl_wall_us(), &rec, &u, err, err_size);
        if (rc == 0)
            print_usage(&rec, &u, o->json);
        return rc;
    }
    if (strcmp(a, "show") == 0)
        rc = sl_key_get(db, o->target, &rec, err, err_size);
    else if (strcmp(a, "update") == 0)
        rc = sl_key_update(db, o->target, &o->rec, o->mask, &rec, err, err_size);
    else if (strcmp(a, "revoke") == 0)
        rc = sl_key_revoke(db, o->target, &rec, err, err_size);
    else
        rc = sl_key_rotate(db, o->target, &rec, secret, err, err_size);
    int rotated = strcmp(a, "rotate") == 0;
    if (rc == 0 && o->json)
        rc = print_json(&rec, rotated ? secret : NULL);
    else if (rc == 0) {
        print_record(&rec);
        if (rotated)
            print_secret(secret);
    }
    return rc;
}

int sl_cmd_keys(int argc, char **argv)
{
    struct opts o = {0};
    int p = parse(argc, argv, &o);
    if (p != 0)
        return p > 0 ? SL_EXIT_OK : SL_EXIT_USAGE;
    char path[4096], err[700];
    if (sl_store_parse_url(o.db, path, sizeof(path), err, sizeof(err)) != 0) {
        sl_usage_error("keys", "--db: %s", err);
        return SL_EXIT_USAGE;
    }
    const char *a = o.action;
    unsigned open_flags =
        strcmp(a, "create") == 0 ? SL_KEYDB_MIGRATE | SL_KEYDB_CREATE
        : strcmp(a, "list") == 0 || strcmp(a, "show") == 0 || strcmp(a, "usage") == 0
            ? 0
            : SL_KEYDB_MIGRATE;
    struct sl_keydb *db;
    int rc = sl_keydb_open(o.db, open_flags, &db, err, sizeof(err));
    if (rc == 0) {
        rc = run(&o, db, err, sizeof(err));
        sl_keydb_close(db);
    }
    if (rc == 0)
        return SL_EXIT_OK;
    if (rc == UV_ENOBUFS || rc == UV_ENOMEM)
        snprintf(err, sizeof(err), "out of memory");
    fprintf(stderr, "sluice keys: %s\n", err);
    return rc == UV_EINVAL ? SL_EXIT_USAGE : SL_EXIT_RUNTIME;
}
