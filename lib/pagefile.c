/*
 * pagefile: a settle_pager over an unlinked temporary file (see the
 * header). Keys are the engine's "<agreement>/<year>"; the index is, per
 * agreement, an array by year of (offset, length, room): 16 bytes a
 * year, no string per key. A blob that grew past its room moves to the
 * file's end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/pagefile.h"

#define PF_NONE		UINT64_MAX	/* off of a year never put */

/* Where a year's blob is. */
struct pent {
	uint64_t	 off;
	uint32_t	 len;
	uint32_t	 room;
};

/* The years of one agreement: v[i] is year first + i. */
struct pgroup {
	char		*name;
	int32_t		 first;
	uint32_t	 n;
	uint32_t	 cap;
	struct pent	*v;
};

struct pagefile {
	int		 fd;
	uint64_t	 size;		/* end of the file */
	struct pgroup	*groups;	/* sorted by name */
	size_t		 ngroups;
	size_t		 capgroups;
	size_t		 count;		/* years put */
};

struct pagefile *
pagefile_new(const char *dir, char *err, size_t errlen)
{
	struct pagefile *pf;
	char path[4096];

	if (dir == NULL && ((dir = getenv("TMPDIR")) == NULL || *dir == '\0'))
		dir = "/tmp";
	if ((pf = calloc(1, sizeof(*pf))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/shanhai-pages.XXXXXX",
	    dir) >= sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		free(pf);
		return NULL;
	}
	if ((pf->fd = mkostemp(path, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: cannot create a page file: %s", dir,
		    strerror(errno));
		free(pf);
		return NULL;
	}
	(void)unlink(path);
	return pf;
}

void
pagefile_free(struct pagefile *pf)
{
	if (pf == NULL)
		return;
	for (size_t i = 0; i < pf->ngroups; i++) {
		free(pf->groups[i].name);
		free(pf->groups[i].v);
	}
	free(pf->groups);
	close(pf->fd);
	free(pf);
}

/* Splits "<name>/<year>": the name's length and the year, or -1. */
static int
key_split(const char *key, size_t *nlen, int32_t *year)
{
	const char *sl = strrchr(key, '/'), *d;
	int32_t y = 0;

	if (sl == NULL || sl[1] == '\0' || strlen(sl + 1) > 4)
		return -1;
	for (d = sl + 1; *d != '\0'; d++) {
		if (*d < '0' || *d > '9')
			return -1;
		y = y * 10 + (*d - '0');
	}
	*nlen = (size_t)(sl - key);
	*year = y;
	return 0;
}

/* name (NUL-terminated) against the first nlen bytes of key. */
static int
name_cmp(const char *name, const char *key, size_t nlen)
{
	int c = strncmp(name, key, nlen);

	return c != 0 ? c : name[nlen] != '\0';
}

/* The agreement's group, made when create; NULL if absent or no memory. */
static struct pgroup *
group_of(struct pagefile *pf, const char *key, size_t nlen, int create)
{
	size_t lo = 0, hi = pf->ngroups;
	struct pgroup *g;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(pf->groups[mid].name, key, nlen);

		if (c == 0)
			return &pf->groups[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!create)
		return NULL;
	if (pf->ngroups == pf->capgroups) {
		size_t ncap = pf->capgroups ? pf->capgroups * 2 : 8;

		if ((g = realloc(pf->groups, ncap * sizeof(*g))) == NULL)
			return NULL;
		pf->groups = g;
		pf->capgroups = ncap;
	}
	g = &pf->groups[lo];
	memmove(g + 1, g, (pf->ngroups - lo) * sizeof(*g));
	memset(g, 0, sizeof(*g));
	if ((g->name = strndup(key, nlen)) == NULL) {
		memmove(g, g + 1, (pf->ngroups - lo) * sizeof(*g));
		return NULL;
	}
	pf->ngroups++;
	return g;
}

/*
 * The entry of the key's year (off PF_NONE when never put), made with
 * its group when create; NULL if absent, not a year key, or no memory.
 */
static struct pent *
entry_of(struct pagefile *pf, const char *key, int create)
{
	struct pgroup *g;
	size_t nlen;
	int32_t y;
	uint32_t lead, need;

	if (key_split(key, &nlen, &y) == -1 ||
	    (g = group_of(pf, key, nlen, create)) == NULL)
		return NULL;
	if (g->n > 0 && y >= g->first && y - g->first < (int32_t)g->n)
		return &g->v[y - g->first];
	if (!create)
		return NULL;
	if (g->n == 0)
		g->first = y;
	/* Years before the first move the array up by lead. */
	lead = y < g->first ? (uint32_t)(g->first - y) : 0;
	need = y < g->first ? g->n + lead : (uint32_t)(y - g->first) + 1;
	if (need > g->cap) {
		uint32_t ncap = g->cap + g->cap / 4 + 8;
		struct pent *nv;

		if (ncap < need)
			ncap = need;
		if ((nv = realloc(g->v, ncap * sizeof(*nv))) == NULL)
			return NULL;
		g->v = nv;
		g->cap = ncap;
	}
	if (lead > 0) {
		memmove(g->v + lead, g->v, g->n * sizeof(*g->v));
		for (uint32_t i = 0; i < lead; i++)
			g->v[i].off = PF_NONE;
		g->first = y;
	} else {
		for (uint32_t i = g->n; i < need; i++)
			g->v[i].off = PF_NONE;
	}
	g->n = need;
	return &g->v[y - g->first];
}

static int
write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t r = pread(fd, p, len, (off_t)off);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int
pf_put(void *arg, const char *key, const void *blob, size_t len)
{
	struct pagefile *pf = arg;
	struct pent *e = entry_of(pf, key, 1);
	uint64_t off;
	uint32_t room;

	if (e == NULL || len > UINT32_MAX / 2)
		return -1;
	if (e->off != PF_NONE && len <= e->room) {
		off = e->off;
		room = e->room;
	} else {
		/* Room for some growth: a year read back mostly grows a little. */
		off = pf->size;
		room = (uint32_t)(len + len / 4);
	}
	if (write_all(pf->fd, blob, len, off) == -1)
		return -1;
	if (off == pf->size)
		pf->size += room;
	if (e->off == PF_NONE)
		pf->count++;
	e->off = off;
	e->len = (uint32_t)len;
	e->room = room;
	return 0;
}

static int
pf_get(void *arg, const char *key, void **blob, size_t *len)
{
	struct pagefile *pf = arg;
	struct pent *e = entry_of(pf, key, 0);
	void *buf;

	if (e == NULL || e->off == PF_NONE ||
	    (buf = malloc(e->len ? e->len : 1)) == NULL)
		return -1;
	if (read_all(pf->fd, buf, e->len, e->off) == -1) {
		free(buf);
		return -1;
	}
	*blob = buf;
	*len = e->len;
	return 0;
}

void
pagefile_pager(struct pagefile *pf, unsigned flags, struct settle_pager *pg)
{
	memset(pg, 0, sizeof(*pg));
	pg->put = pf_put;
	pg->get = pf_get;
	pg->arg = pf;
	pg->flags = flags;
}

size_t
pagefile_count(const struct pagefile *pf)
{
	return pf->count;
}

size_t
pagefile_bytes(const struct pagefile *pf)
{
	return (size_t)pf->size;
}
