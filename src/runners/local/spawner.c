/*
 * torc-spawner: starts job processes for torc's local runner (see spawner.ts, which speaks to it
 * over this process's stdin/stdout). It does what the perl helper in spawner.ts does, with the
 * same protocol, but starts each job with posix_spawn: glibc implements that with
 * clone(CLONE_VM|CLONE_VFORK), so no page tables are copied and no copy-on-write faults follow,
 * and no interpreter runs per job. That made the perl helper about 30% of all CPU of a
 * 5,000-job run of `true`.
 *
 * Protocol (all fields NUL-separated, each record preceded by "<byte length>\n"):
 *   → J id group limit cwd stdout stderr ncg (join home)… nunset unset… nset K=V… argv…
 *     (ncg pairs of cgroup.procs files: the helper steps into each `join` before it starts the
 *     job, so the job and all it forks are in the job's cgroups, and back into `home` after)
 *   → C group                 withdraw the group's queued requests
 *   ← "S <id> <pid> <ms>"     started (ms: wall clock, milliseconds since the epoch)
 *   ← "X <id> <message>"      could not start (the message is also in the job's stderr file)
 *   ← "E <id> <code> <signo> [<ms>]" ended: exit code and 0, or -1 and the signal number;
 *                             ms: when it was reaped (absent when it never started)
 *   ← "K <id>"                withdrawn from the queue; never started
 * EOF on stdin means Node is gone: TERM every job's process group, reap for up to 10 s, KILL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* One job request, parsed; all strings point into buf. */
struct req {
  char *buf;
  const char *id;
  long limit;
  const char *cwd, *out, *err;
  char **cg; /* ncg pairs: join, home */
  long ncg;
  char **unset;
  long nunset;
  char **set;
  long nset;
  char **argv; /* NULL-terminated */
  long argc;
  struct req *next; /* in its group's queue */
};

struct group {
  char *name;
  long running;
  struct req *head, *tail;
  struct group *next;
};

struct job {
  pid_t pid;
  char *id;
  struct group *group; /* NULL when started without a queue */
  struct job *next;    /* hash chain */
};

#define JOB_BUCKETS 4096
static struct job *jobs[JOB_BUCKETS];
static long njobs;
static struct group *groups;
static char **base_env; /* the helper's environment, as it started */
static size_t base_nenv;

/* ---------- output: replies are buffered and written out before each wait ---------- */

static char *obuf;
static size_t olen, ocap;
static int out_broken;

static void out_flush(void) {
  size_t done = 0;
  while (done < olen && !out_broken) {
    ssize_t w = write(STDOUT_FILENO, obuf + done, olen - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      out_broken = 1; /* Node is gone; EOF on stdin follows */
      break;
    }
    done += (size_t)w;
  }
  olen = 0;
}

static void out_add(const char *s, size_t n) {
  if (olen + n > ocap) {
    size_t cap = ocap ? ocap : 4096;
    while (cap < olen + n) cap *= 2;
    char *p = realloc(obuf, cap);
    if (!p) {
      out_flush();
      if (n > ocap) { /* cannot buffer: write directly */
        size_t done = 0;
        while (done < n && !out_broken) {
          ssize_t w = write(STDOUT_FILENO, s + done, n - done);
          if (w < 0 && errno != EINTR) out_broken = 1;
          if (w > 0) done += (size_t)w;
        }
        return;
      }
    } else {
      obuf = p;
      ocap = cap;
    }
  }
  memcpy(obuf + olen, s, n);
  olen += n;
}

/* Wall clock in milliseconds since the epoch: when a job started and ended, as the helper saw it. */
static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) {
    n = sizeof line - 1;
    line[n - 1] = '\n'; /* truncated message: keep the line a line */
  }
  out_add(line, (size_t)n);
}

/* A message travels on one line: newlines become spaces (as the perl helper does). */
static void one_line(char *s) {
  for (; *s; s++)
    if (*s == '\n' || *s == '\r') *s = ' ';
}

/* ---------- jobs and groups ---------- */

static struct job **job_slot(pid_t pid) {
  struct job **p = &jobs[(unsigned)pid % JOB_BUCKETS];
  while (*p && (*p)->pid != pid) p = &(*p)->next;
  return p;
}

static struct group *group_get(const char *name) {
  for (struct group *g = groups; g; g = g->next)
    if (strcmp(g->name, name) == 0) return g;
  struct group *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->name = strdup(name);
  if (!g->name) {
    free(g);
    return NULL;
  }
  g->next = groups;
  groups = g;
  return g;
}

/* An idle group with nothing queued is forgotten (runners come and go). */
static void group_maybe_free(struct group *g) {
  if (g->running > 0 || g->head) return;
  for (struct group **p = &groups; *p; p = &(*p)->next)
    if (*p == g) {
      *p = g->next;
      free(g->name);
      free(g);
      return;
    }
}

static void req_free(struct req *r) {
  if (!r) return;
  free(r->buf);
  free(r->cg);
  free(r->unset);
  free(r->set);
  free(r->argv);
  free(r);
}

/* ---------- starting a job ---------- */

static size_t key_len(const char *kv) {
  const char *eq = strchr(kv, '=');
  return eq ? (size_t)(eq - kv) : strlen(kv);
}

static int same_key(const char *a, size_t alen, const char *b) {
  return key_len(b) == alen && strncmp(a, b, alen) == 0;
}

/*
 * The job's environment: the helper's own minus `unset`, plus `set` (a later set of the same
 * name wins). Entries point into base_env and the request; set entries without '=' get one
 * added in `extra` storage (perl sets such a variable to the empty string).
 */
static char **job_env(const struct req *r, char **extra) {
  char **env = malloc((base_nenv + (size_t)r->nset + 1) * sizeof *env);
  if (!env) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < base_nenv; i++) {
    const char *e = base_env[i];
    size_t k = key_len(e);
    int drop = 0;
    for (long j = 0; j < r->nunset && !drop; j++) drop = strlen(r->unset[j]) == k && strncmp(r->unset[j], e, k) == 0;
    for (long j = 0; j < r->nset && !drop; j++) drop = same_key(e, k, r->set[j]);
    if (!drop) env[n++] = (char *)e;
  }
  size_t extra_n = 0;
  for (long j = 0; j < r->nset; j++) {
    const char *s = r->set[j];
    size_t k = key_len(s);
    int later = 0;
    for (long l = j + 1; l < r->nset && !later; l++) later = same_key(s, k, r->set[l]);
    if (later || k == 0) continue;
    if (strchr(s, '=')) {
      env[n++] = (char *)s;
    } else {
      char *e = malloc(k + 2);
      if (!e) continue;
      memcpy(e, s, k);
      e[k] = '=';
      e[k + 1] = '\0';
      extra[extra_n++] = e;
      env[n++] = e;
    }
  }
  extra[extra_n] = NULL;
  env[n] = NULL;
  return env;
}

static const char *env_get(char **env, const char *name) {
  size_t k = strlen(name);
  for (; *env; env++)
    if (strncmp(*env, name, k) == 0 && (*env)[k] == '=') return *env + k + 1;
  return NULL;
}

/*
 * execvp's search, done here because posix_spawnp would search the helper's PATH and the perl
 * helper (exec { $argv[0] } …, i.e. execvp after setting the job's %ENV) searches the job's:
 * each PATH entry in turn (no PATH: /bin:/usr/bin; an empty entry: the working directory; a
 * relative entry is relative to the job's cwd); a file found but not executable is skipped
 * and, if nothing else is found, the error is EACCES rather than ENOENT.
 * Returns a malloc'd path, or NULL with *err set.
 */
static char *resolve_program(const char *prog, char **env, const char *cwd, int *err) {
  if (!*prog) {
    *err = ENOENT;
    return NULL;
  }
  if (strchr(prog, '/')) return strdup(prog);
  const char *path = env_get(env, "PATH");
  if (!path) path = "/bin:/usr/bin";
  size_t plen = strlen(prog), clen = strlen(cwd);
  int eacces = 0;
  for (const char *p = path;; p++) {
    const char *end = strchr(p, ':');
    if (!end) end = p + strlen(p);
    size_t dlen = (size_t)(end - p);
    char *cand = malloc(clen + dlen + plen + 3);
    if (!cand) {
      *err = ENOMEM;
      return NULL;
    }
    size_t n = 0;
    if (dlen == 0 || p[0] != '/') { /* relative to the job's working directory */
      memcpy(cand, cwd, clen);
      n = clen;
      cand[n++] = '/';
    }
    memcpy(cand + n, p, dlen);
    n += dlen;
    if (dlen > 0) cand[n++] = '/';
    memcpy(cand + n, prog, plen + 1);
    struct stat st;
    if (stat(cand, &st) == 0) {
      if (S_ISREG(st.st_mode) && access(cand, X_OK) == 0) return cand;
      eacces = 1;
    }
    free(cand);
    if (!*end) break;
    p = end;
  }
  *err = eacces ? EACCES : ENOENT;
  return NULL;
}

static void start_failed(const struct req *r, int errfd, const char *what, int err) {
  char msg[4096];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  one_line(msg);
  if (errfd >= 0) {
    char line[4200];
    int n = snprintf(line, sizeof line, "torc: could not start job: %s\n", msg);
    if (n > 0) {
      ssize_t w = write(errfd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
      (void)w; /* the file is the job's; nothing else to tell */
    }
  }
  say("X %s %s\n", r->id, msg);
  say("E %s 127 0\n", r->id);
}

static int is_directory(const char *path, int *err) {
  struct stat st;
  if (stat(path, &st) != 0) {
    *err = errno;
    return 0;
  }
  if (!S_ISDIR(st.st_mode)) {
    *err = ENOTDIR;
    return 0;
  }
  if (access(path, X_OK) != 0) {
    *err = errno;
    return 0;
  }
  return 1;
}

/* Moves this helper into the cgroup whose cgroup.procs is `procs`; 0 or an errno. */
static int enter_cgroup(const char *procs) {
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld", (long)getpid());
  int rc = write(fd, pid, (size_t)n) == n ? 0 : errno;
  close(fd);
  return rc;
}

/* Starts the request now. Returns 1 if a process is running (counted in its group). */
/*
 * A job that could not start: as the perl helper, a bad working directory is named before the
 * program's own error (which may only be a consequence of it).
 */
static void start_failed_cwd_or(const struct req *r, int errfd, int program_err) {
  int derr;
  if (!is_directory(r->cwd, &derr)) {
    char what[PATH_MAX + 16];
    snprintf(what, sizeof what, "chdir %s", r->cwd);
    start_failed(r, errfd, what, derr);
  } else {
    start_failed(r, errfd, r->argv[0], program_err);
  }
}

static int launch(struct req *r, struct group *g) {
  /* The stdio files exist before the job is reported started (readers may look at once). */
  int o = open(r->out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  int e = o < 0 ? -1 : open(r->err, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (o < 0 || e < 0) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", strerror(errno));
    if (o >= 0) close(o);
    say("X %s cannot open job output: %s\n", r->id, msg);
    say("E %s 127 0\n", r->id);
    return 0;
  }
  char **extra = malloc(((size_t)r->nset + 1) * sizeof *extra);
  char **env = extra ? job_env(r, extra) : NULL;
  int started = 0;
  if (!env) {
    start_failed(r, e, "environment", ENOMEM);
    goto done;
  }
  int err = 0;
  if (r->argc == 0) {
    start_failed(r, e, "(no command)", ENOENT);
    goto done;
  }
  char *prog = resolve_program(r->argv[0], env, r->cwd, &err);
  if (!prog) {
    start_failed_cwd_or(r, e, err);
    goto done;
  }

  /* Into the job's cgroups first: the child is created where its parent is. */
  long joined = 0;
  for (; joined < r->ncg; joined++) {
    int cerr = enter_cgroup(r->cg[2 * joined]);
    if (cerr) {
      for (long i = 0; i < joined; i++) enter_cgroup(r->cg[2 * i + 1]);
      char what[PATH_MAX + 16];
      snprintf(what, sizeof what, "cgroup %s", r->cg[2 * joined]);
      start_failed(r, e, what, cerr);
      free(prog);
      goto done;
    }
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  /* Its own session (pid = pgid, so its whole group can be signalled), default signals, empty mask. */
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, o, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, e, STDERR_FILENO);
  posix_spawn_file_actions_addchdir_np(&fa, r->cwd);
  pid_t pid;
  int rc = posix_spawn(&pid, prog, &fa, &at, r->argv, env);
  if (rc == ENOEXEC) {
    /* execvp runs a file without a #! line with /bin/sh; so does the perl helper. */
    char **sh = malloc(((size_t)r->argc + 2) * sizeof *sh);
    if (sh) {
      sh[0] = "/bin/sh";
      sh[1] = prog;
      for (long i = 1; i <= r->argc; i++) sh[i + 1] = r->argv[i];
      rc = posix_spawn(&pid, "/bin/sh", &fa, &at, sh, env);
      free(sh);
    }
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  /* Back home, last entered first left: the CPU controller's group (given last) holds only the spawn itself. */
  for (long i = joined - 1; i >= 0; i--) enter_cgroup(r->cg[2 * i + 1]);
  if (rc != 0) {
    /* glibc reports a failed chdir or exec in the child as the return value (and reaps it). */
    start_failed_cwd_or(r, e, rc);
    free(prog);
    goto done;
  }
  free(prog);
  struct job *j = calloc(1, sizeof *j);
  char *id = strdup(r->id);
  if (!j || !id) {
    /* Cannot track it: end it rather than lose it. */
    free(j);
    free(id);
    kill(-pid, SIGKILL);
    say("X %s out of memory\n", r->id);
    say("E %s 127 0\n", r->id);
    goto done;
  }
  j->pid = pid;
  j->id = id;
  j->group = g;
  struct job **slot = job_slot(pid);
  j->next = *slot;
  *slot = j;
  njobs++;
  if (g) g->running++;
  say("S %s %ld %lld\n", r->id, (long)pid, now_ms());
  started = 1;
done:
  if (extra)
    for (char **x = extra; *x; x++) free(*x);
  free(extra);
  free(env);
  close(o);
  close(e);
  return started;
}

/* Starts queued requests of the group while it is under the limit (the head's limit rules). */
static void drain(struct group *g) {
  while (g->head && g->running < g->head->limit) {
    struct req *r = g->head;
    g->head = r->next;
    if (!g->head) g->tail = NULL;
    launch(r, g);
    req_free(r);
  }
  group_maybe_free(g);
}

static void reap(void) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    struct job **slot = job_slot(pid);
    struct job *j = *slot;
    if (!j) continue;
    *slot = j->next;
    njobs--;
    if (WIFSIGNALED(st))
      say("E %s -1 %d %lld\n", j->id, WTERMSIG(st), now_ms());
    else
      say("E %s %d 0 %lld\n", j->id, WEXITSTATUS(st), now_ms());
    struct group *g = j->group;
    free(j->id);
    free(j);
    if (g) {
      g->running--;
      drain(g);
    }
  }
}

/* ---------- requests ---------- */

/* A non-negative decimal number, whole field; -1 if it is not one. */
static long number(const char *s) {
  if (!*s) return -1;
  long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (LONG_MAX - 9) / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

static int valid_id(const char *id) {
  if (!*id) return 0;
  for (; *id; id++)
    if (*id == ' ' || *id == '\n' || *id == '\r') return 0;
  return 1;
}

/* Handles one record (buf is malloc'd, len bytes, NUL-terminated one past the end; taken over). */
static void handle(char *buf, size_t len) {
  /* Split into fields at NUL (the record carries len bytes, so fields may be empty). */
  size_t nf = 1;
  for (size_t i = 0; i < len; i++) nf += buf[i] == '\0';
  char **f = malloc(nf * sizeof *f);
  if (!f) {
    free(buf);
    return;
  }
  size_t k = 0;
  f[k++] = buf;
  for (size_t i = 0; i < len; i++)
    if (buf[i] == '\0') f[k++] = buf + i + 1;

  if (strcmp(f[0], "C") == 0 && nf >= 2) {
    for (struct group *g = groups; g; g = g->next)
      if (strcmp(g->name, f[1]) == 0) {
        for (struct req *r = g->head, *n; r; r = n) {
          n = r->next;
          say("K %s\n", r->id);
          req_free(r);
        }
        g->head = g->tail = NULL;
        group_maybe_free(g);
        break;
      }
    free(f);
    free(buf);
    return;
  }
  if (strcmp(f[0], "J") != 0 || nf < 2 || !valid_id(f[1])) {
    /* Not a request we can answer: nobody to tell. */
    free(f);
    free(buf);
    return;
  }

  struct req *r = calloc(1, sizeof *r);
  if (!r) {
    say("X %s out of memory\nE %s 127 0\n", f[1], f[1]);
    free(f);
    free(buf);
    return;
  }
  r->buf = buf;
  r->id = f[1];
  /* J id group limit cwd out err ncg (join home)… nunset … nset … argv… */
  size_t i = 2;
  const char *group = NULL;
  int ok = nf >= 10;
  if (ok) {
    group = f[i++];
    r->limit = number(f[i++]);
    r->cwd = f[i++];
    r->out = f[i++];
    r->err = f[i++];
    r->ncg = number(f[i++]);
    ok = r->limit >= 0 && r->ncg >= 0 && (size_t)r->ncg * 2 < nf - i;
  }
  if (ok) {
    r->cg = malloc(((size_t)r->ncg * 2 + 1) * sizeof *r->cg);
    if (r->cg) memcpy(r->cg, f + i, (size_t)r->ncg * 2 * sizeof *r->cg);
    i += (size_t)r->ncg * 2;
    r->nunset = number(f[i++]);
    ok = r->cg && r->nunset >= 0 && (size_t)r->nunset < nf - i;
  }
  if (ok) {
    r->unset = f + i; /* copied below: f is freed */
    i += (size_t)r->nunset;
    r->nset = number(f[i++]);
    ok = r->nset >= 0 && (size_t)r->nset <= nf - i;
  }
  if (ok) {
    char **unset = malloc(((size_t)r->nunset + 1) * sizeof *unset);
    char **set = malloc(((size_t)r->nset + 1) * sizeof *set);
    r->set = set;
    if (unset) memcpy(unset, r->unset, (size_t)r->nunset * sizeof *unset);
    r->unset = unset;
    if (set) memcpy(set, f + i, (size_t)r->nset * sizeof *set);
    i += (size_t)r->nset;
    r->argc = (long)(nf - i);
    r->argv = malloc(((size_t)r->argc + 1) * sizeof *r->argv);
    if (r->argv) {
      memcpy(r->argv, f + i, (size_t)r->argc * sizeof *r->argv);
      r->argv[r->argc] = NULL;
    }
    if (!unset || !set || !r->argv) {
      say("X %s out of memory\nE %s 127 0\n", r->id, r->id);
      free(f);
      req_free(r);
      return;
    }
  }
  free(f);
  if (!ok) {
    r->unset = NULL;
    say("X %s malformed request\nE %s 127 0\n", r->id, r->id);
    req_free(r);
    return;
  }

  struct group *g = NULL;
  if (r->limit > 0) {
    g = group_get(group);
    if (!g) {
      say("X %s out of memory\nE %s 127 0\n", r->id, r->id);
      req_free(r);
      return;
    }
    if (g->running >= r->limit || g->head) {
      if (g->tail) g->tail->next = r;
      else g->head = r;
      g->tail = r;
      return;
    }
  }
  launch(r, g);
  req_free(r);
  if (g) group_maybe_free(g);
}

/*
 * Takes the complete records out of the input buffer. A header that is not "<digits>\n" (or
 * absurdly long) cannot be trusted to frame anything: its line is dropped and parsing goes on
 * at the next line, so one garbled record does not take the others with it.
 */
#define MAX_RECORD (64u << 20)
static char *ibuf;
static size_t ilen, icap;

static void parse_input(void) {
  if (!ibuf) return;
  size_t pos = 0;
  while (pos < ilen) {
    char *nl = memchr(ibuf + pos, '\n', ilen - pos);
    if (!nl) {
      if (ilen - pos > 32) pos = ilen; /* no header is this long: garbage */
      break;
    }
    size_t hlen = (size_t)(nl - (ibuf + pos));
    size_t len = 0;
    int good = hlen > 0 && hlen <= 10;
    for (size_t i = 0; good && i < hlen; i++) {
      char c = ibuf[pos + i];
      good = c >= '0' && c <= '9';
      len = len * 10 + (size_t)(c - '0');
    }
    if (!good || len > MAX_RECORD) {
      pos += hlen + 1;
      continue;
    }
    if (ilen - pos - hlen - 1 < len) break; /* the rest has not arrived yet */
    char *rec = malloc(len + 1);
    if (rec) {
      memcpy(rec, nl + 1, len);
      rec[len] = '\0';
      handle(rec, len);
    }
    pos += hlen + 1 + len;
  }
  if (pos > 0) memmove(ibuf, ibuf + pos, ilen - pos);
  ilen -= pos;
}

/* ---------- Node gone ---------- */

/*
 * Node is gone (a clean runner ends its jobs first, so this is a kill -9 or a crash): nobody
 * will report these jobs, and the server gives them to another runner once this one's lease
 * runs out. They must not run on beside their next attempt: TERM their groups, KILL what is
 * left after 10 s.
 */
static void orphaned(int sfd) {
  for (struct group *g = groups; g; g = g->next)
    for (struct req *r = g->head, *n; r; r = n) {
      n = r->next;
      req_free(r);
    }
  for (struct group *g = groups; g; g = g->next) g->head = g->tail = NULL;
  int devnull = open("/dev/null", O_WRONLY);
  if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
  olen = 0;
  pid_t *pgids = malloc(((size_t)njobs + 1) * sizeof *pgids);
  size_t n = 0;
  for (int b = 0; b < JOB_BUCKETS; b++)
    for (struct job *j = jobs[b]; j; j = j->next) {
      if (pgids) pgids[n++] = j->pid;
      kill(-j->pid, SIGTERM);
    }
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (njobs > 0) {
    reap();
    olen = 0;
    if (njobs == 0) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long waited = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
    if (waited >= 10000) break;
    struct pollfd p = {sfd, POLLIN, 0};
    if (poll(&p, 1, (int)(10000 - waited < 100 ? 10000 - waited : 100)) > 0) {
      struct signalfd_siginfo si[16];
      ssize_t r = read(sfd, si, sizeof si);
      (void)r;
    }
  }
  /* Whatever is left of the groups (their leaders may be gone, members not). */
  if (pgids)
    for (size_t i = 0; i < n; i++) kill(-pgids[i], SIGKILL);
  else
    for (int b = 0; b < JOB_BUCKETS; b++)
      for (struct job *j = jobs[b]; j; j = j->next) kill(-j->pid, SIGKILL);
  _exit(0);
}

int main(void) {
  /* Snapshot of the environment the jobs' environments are changes of. */
  for (base_nenv = 0; environ && environ[base_nenv]; base_nenv++) {
  }
  base_env = environ;

  /* Node gone mid-reply must not kill the helper: writes then fail and EOF follows. */
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    perror("torc-spawner: signalfd");
    return 1;
  }
  /* stdin/stdout are Node's pipes: no job may keep them (the jobs' 0-2 are replaced anyway). */
  fcntl(STDIN_FILENO, F_SETFD, FD_CLOEXEC);
  fcntl(STDOUT_FILENO, F_SETFD, FD_CLOEXEC);

  for (;;) {
    reap();
    out_flush();
    struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {sfd, POLLIN, 0}};
    int n = poll(p, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      orphaned(sfd);
    }
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo si[16];
      while (read(sfd, si, sizeof si) > 0) {
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (icap - ilen < 65536) {
        size_t cap = icap ? icap * 2 : 131072;
        while (cap - ilen < 65536) cap *= 2;
        char *b = realloc(ibuf, cap);
        if (!b) {
          parse_input();
          continue;
        }
        ibuf = b;
        icap = cap;
      }
      ssize_t r = read(STDIN_FILENO, ibuf + ilen, icap - ilen);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) orphaned(sfd);
      ilen += (size_t)r;
      parse_input();
    }
  }
}
