/*
 * pagefile: a settle_pager over an unlinked temporary file (see the
 * header). The index is an open-addressing table of keys to (offset,
 * length, room); a blob that grew past its room moves to the file's end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/fnv.h"
#include "shanhai/pagefile.h"

struct pslot {
	char		*key;
	uint64_t	 off;
	uint32_t	 len;
	uint32_t	 room;
};

struct pagefile {
	int		 fd;
	uint64_t	 size;		/* end of the file */
	struct pslot	*slots;
	size_t		 cap;
	size_t		 n;
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
	for (size_t i = 0; i < pf->cap; i++)
		free(pf->slots[i].key);
	free(pf->slots);
	close(pf->fd);
	free(pf);
}

static struct pslot *
slot_find(const struct pagefile *pf, const char *key)
{
	if (pf->cap == 0)
		return NULL;
	for (size_t i = fnv1a(FNV1A_BASIS, key) & (pf->cap - 1);
	    pf->slots[i].key != NULL; i = (i + 1) & (pf->cap - 1))
		if (strcmp(pf->slots[i].key, key) == 0)
			return &pf->slots[i];
	return NULL;
}

static struct pslot *
slot_add(struct pagefile *pf, const char *key)
{
	size_t i;

	if ((pf->n + 1) * 4 > pf->cap * 3) {
		size_t ncap = pf->cap ? pf->cap * 2 : 64;
		struct pslot *ns = calloc(ncap, sizeof(*ns));

		if (ns == NULL)
			return NULL;
		for (size_t k = 0; k < pf->cap; k++) {
			if (pf->slots[k].key == NULL)
				continue;
			for (i = fnv1a(FNV1A_BASIS, pf->slots[k].key) & (ncap - 1);
			    ns[i].key != NULL; i = (i + 1) & (ncap - 1))
				;
			ns[i] = pf->slots[k];
		}
		free(pf->slots);
		pf->slots = ns;
		pf->cap = ncap;
	}
	for (i = fnv1a(FNV1A_BASIS, key) & (pf->cap - 1);
	    pf->slots[i].key != NULL; i = (i + 1) & (pf->cap - 1))
		;
	if ((pf->slots[i].key = strdup(key)) == NULL)
		return NULL;
	pf->n++;
	return &pf->slots[i];
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
	struct pslot *sl = slot_find(pf, key);
	uint64_t off;
	uint32_t room;

	if (len > UINT32_MAX / 2)
		return -1;
	if (sl != NULL && len <= sl->room) {
		off = sl->off;
		room = sl->room;
	} else {
		/* Room for some growth: a year read back mostly grows a little. */
		off = pf->size;
		room = (uint32_t)(len + len / 4);
	}
	if (write_all(pf->fd, blob, len, off) == -1)
		return -1;
	if (off == pf->size)
		pf->size += room;
	if (sl == NULL && (sl = slot_add(pf, key)) == NULL)
		return -1;
	sl->off = off;
	sl->len = (uint32_t)len;
	sl->room = room;
	return 0;
}

static int
pf_get(void *arg, const char *key, void **blob, size_t *len)
{
	struct pagefile *pf = arg;
	struct pslot *sl = slot_find(pf, key);
	void *buf;

	if (sl == NULL || (buf = malloc(sl->len ? sl->len : 1)) == NULL)
		return -1;
	if (read_all(pf->fd, buf, sl->len, sl->off) == -1) {
		free(buf);
		return -1;
	}
	*blob = buf;
	*len = sl->len;
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
	return pf->n;
}

size_t
pagefile_bytes(const struct pagefile *pf)
{
	return (size_t)pf->size;
}
