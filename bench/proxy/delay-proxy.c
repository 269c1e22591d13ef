/*
 * A loopback TCP proxy that delays every byte by a fixed one-way latency in
 * each direction, for the bench's database-latency profile. One thread, epoll,
 * and one timerfd with nanosecond deadlines: with a constant delay the chunks
 * of all connections fall due in the order they were read, so one FIFO is the
 * whole schedule (no per-chunk timer). At 0 delay it forwards at once.
 *
 *   delay-proxy <target-port> <one-way-delay-us>
 * Listens on 127.0.0.1 on a free port, prints "port <n>" on stdout, forwards to
 * 127.0.0.1:<target-port>; exits on SIGTERM or when stdin closes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

struct pair;

/* One direction of a connection: bytes read from `from`, written to `to`. */
struct side {
  int from, to;
  struct pair *pair;
  char *out; /* due bytes not yet written (the socket was full) */
  size_t out_len, out_cap;
  int eof_due;  /* the source closed and that moment has come */
  int read_eof; /* the source closed (read returned 0) */
};

struct pair {
  struct side up, down; /* client->server, server->client */
  int queued;           /* chunks still in the schedule */
  int dead;
  struct pair *next_dead;
};

/* Pairs closed during one round of events, freed after it (events of the round may still name them). */
static struct pair *graveyard;

static void bury(struct pair *p) {
  p->next_dead = graveyard;
  graveyard = p;
}

struct chunk {
  uint64_t due;
  struct side *side;
  size_t len; /* 0: the source closed */
  struct chunk *next;
  char data[];
};

static struct chunk *head, *tail;
static int ep, tfd, lfd;
static uint64_t delay_ns;
static int target_port;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void arm(void) {
  struct itimerspec its = {0};
  if (head) {
    uint64_t due = head->due ? head->due : 1;
    its.it_value.tv_sec = (time_t)(due / 1000000000ull);
    its.it_value.tv_nsec = (long)(due % 1000000000ull);
  }
  timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void set_events(int fd, void *ptr, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = ptr};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void kill_pair(struct pair *p) {
  if (p->dead) return;
  p->dead = 1;
  close(p->up.from);
  close(p->down.from);
  free(p->up.out);
  free(p->down.out);
  p->up.out = p->down.out = NULL;
  if (p->queued == 0) bury(p);
}

/* Writes what is due; on a full socket waits for EPOLLOUT on it. */
static void flush_side(struct side *s) {
  while (s->out_len > 0) {
    ssize_t n = write(s->to, s->out, s->out_len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        /* `to` is the other side's source: keep reading it, and watch for room. */
        struct side *other = s == &s->pair->up ? &s->pair->down : &s->pair->up;
        set_events(s->to, other, (other->read_eof ? 0 : EPOLLIN) | EPOLLOUT);
        return;
      }
      kill_pair(s->pair);
      return;
    }
    memmove(s->out, s->out + n, s->out_len - (size_t)n);
    s->out_len -= (size_t)n;
  }
  if (s->eof_due) shutdown(s->to, SHUT_WR);
  struct pair *p = s->pair;
  if (p->up.eof_due && p->down.eof_due && !p->up.out_len && !p->down.out_len) kill_pair(p);
}

static void append_out(struct side *s, const char *data, size_t len) {
  if (s->out_len + len > s->out_cap) {
    size_t cap = s->out_cap ? s->out_cap : CHUNK;
    while (cap < s->out_len + len) cap *= 2;
    s->out = realloc(s->out, cap);
    s->out_cap = cap;
  }
  memcpy(s->out + s->out_len, data, len);
  s->out_len += len;
}

static void deliver(struct side *s, const char *data, size_t len) {
  if (len == 0) s->eof_due = 1;
  else append_out(s, data, len);
  flush_side(s);
}

static void on_readable(struct side *s) {
  char buf[CHUNK];
  if (s->read_eof) return;
  for (;;) {
    ssize_t n = read(s->from, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      kill_pair(s->pair);
      return;
    }
    if (n == 0) {
      s->read_eof = 1;
      set_events(s->from, s, 0);
    }
    if (delay_ns == 0 && head == NULL) {
      deliver(s, buf, (size_t)n);
    } else {
      struct chunk *c = malloc(sizeof *c + (size_t)n);
      c->due = now_ns() + delay_ns;
      c->side = s;
      c->len = (size_t)n;
      c->next = NULL;
      memcpy(c->data, buf, (size_t)n);
      s->pair->queued++;
      if (tail) tail->next = c;
      else head = c;
      tail = c;
      if (head == c) arm();
    }
    if (n == 0 || s->pair->dead) return;
  }
}

static void on_timer(void) {
  uint64_t expirations;
  if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) return;
  uint64_t now = now_ns();
  while (head && head->due <= now) {
    struct chunk *c = head;
    head = c->next;
    if (!head) tail = NULL;
    struct pair *p = c->side->pair;
    p->queued--;
    if (!p->dead) deliver(c->side, c->data, c->len); /* may kill it, burying it when nothing is queued */
    else if (p->queued == 0) bury(p);
    free(c);
  }
  arm();
}

static int nonblocking(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void on_accept(void) {
  for (;;) {
    int client = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    if (client < 0) return;
    int server = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)target_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* A blocking connect on loopback is immediate; then both go non-blocking. */
    if (connect(server, (struct sockaddr *)&addr, sizeof addr) < 0) {
      close(client);
      close(server);
      continue;
    }
    nonblocking(client);
    nonblocking(server);
    struct pair *p = calloc(1, sizeof *p);
    p->up = (struct side){.from = client, .to = server, .pair = p};
    p->down = (struct side){.from = server, .to = client, .pair = p};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->up};
    epoll_ctl(ep, EPOLL_CTL_ADD, client, &ev);
    ev.data.ptr = &p->down;
    epoll_ctl(ep, EPOLL_CTL_ADD, server, &ev);
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: delay-proxy <target-port> <one-way-delay-us>\n");
    return 2;
  }
  target_port = atoi(argv[1]);
  delay_ns = (uint64_t)atoll(argv[2]) * 1000ull;
  signal(SIGPIPE, SIG_IGN);

  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 512) < 0 || getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
    perror("listen");
    return 1;
  }
  ep = epoll_create1(0);
  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  static int lfd_tag, tfd_tag, stdin_tag;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &lfd_tag};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.ptr = &tfd_tag;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  ev.data.ptr = &stdin_tag;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  struct epoll_event events[128];
  for (;;) {
    int n = epoll_wait(ep, events, 128, -1);
    if (n < 0 && errno != EINTR) return 1;
    for (int i = 0; i < n; i++) {
      void *ptr = events[i].data.ptr;
      if (ptr == &lfd_tag) on_accept();
      else if (ptr == &tfd_tag) on_timer();
      else if (ptr == &stdin_tag) {
        char b[64];
        if (read(0, b, sizeof b) <= 0) return 0;
      } else {
        struct side *s = ptr;
        if (s->pair->dead) continue;
        if (events[i].events & EPOLLOUT) {
          /* Room on s->from, which is the other side's destination. */
          struct side *other = s == &s->pair->up ? &s->pair->down : &s->pair->up;
          set_events(s->from, s, s->read_eof ? 0 : EPOLLIN);
          flush_side(other);
          if (s->pair->dead) continue;
        }
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(s);
      }
    }
    while (graveyard) {
      struct pair *p = graveyard;
      graveyard = p->next_dead;
      free(p);
    }
  }
}
