/*
 * pagefile: a settle_pager over two unlinked temporary files (see the
 * header).
 *
 * Blobs: each at its offset in the blob file, behind a header of its
 * length and its room; the offset is the reference the engine keeps, so
 * the page file holds no index of its blobs. A blob rewritten in place
 * while it fits its room; one that grew past it moves to the file's end.
 *
 * Report ids: an extendible hash (Fagin et al., 1979) over pages of 256
 * slots in the id file. A slot is the id's 64-bit hash with its low 14
 * bits replaced by the year. In memory: the directory (one page number
 * for each value of the hash's top `depth` bits) and, per page, its count,
 * its local depth and a Bloom filter of its slots (1,024 bits, 3 probes),
 * which answers most lookups of a new id without reading the page: under
 * a byte per id. A full page splits on its next hash bit, doubling the
 * directory when the page was as deep as it.
 * Pages are written whole when made, so that adding a slot writes into
 * space the file already has. A slot the file cannot take (a full disk)
 * stays in memory, as a blob put() cannot write leaves its year there:
 * the index never loses an id, and the engine never refuses a report for
 * want of disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/pagefile.h"

#define PF_HDR		8		/* u32 length, u32 room */
#define ID_SLOTS	256		/* slots a page */
#define ID_PAGE		(ID_SLOTS * 8)	/* bytes a page */
#define ID_YEAR		0x3fffULL	/* the year's bits of a slot */
#define ID_MAXDEPTH	50		/* the hash bits a slot keeps */
#define ID_FILTER	16		/* 64-bit words of a page's filter */

/* What memory keeps of a page of the id file. */
struct idpage {
	uint64_t	 filter[ID_FILTER];
	uint16_t	 count;		/* slots used */
	uint8_t		 depth;		/* local depth */
};

struct pagefile {
	int		 fd;		/* blobs */
	uint64_t	 size;		/* end of the blob file */
	size_t		 count;		/* blobs put */
	int		 idfd;		/* report ids */
	uint32_t	*dir;		/* 1 << depth page numbers */
	unsigned	 depth;
	struct idpage	*pages;
	uint32_t	 npages;
	uint32_t	 cappages;
	size_t		 nids;
	uint64_t	*over;		/* slots the file could not take */
	size_t		 nover;
	size_t		 capover;
	int		 ids_broken;	/* a page rewrite failed half way */
};

/* A new file in dir, already unlinked: its descriptor, or -1 (err). */
static int
tmpfile_in(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/shanhai-pages.XXXXXX",
	    dir) >= sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: cannot create a page file: %s", dir,
		    strerror(errno));
		return -1;
	}
	(void)unlink(path);
	return fd;
}

struct pagefile *
pagefile_new(const char *dir, char *err, size_t errlen)
{
	struct pagefile *pf;

	if (dir == NULL && ((dir = getenv("TMPDIR")) == NULL || *dir == '\0'))
		dir = "/tmp";
	if ((pf = calloc(1, sizeof(*pf))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((pf->fd = tmpfile_in(dir, err, errlen)) == -1) {
		free(pf);
		return NULL;
	}
	if ((pf->idfd = tmpfile_in(dir, err, errlen)) == -1) {
		close(pf->fd);
		free(pf);
		return NULL;
	}
	return pf;
}

void
pagefile_free(struct pagefile *pf)
{
	if (pf == NULL)
		return;
	free(pf->dir);
	free(pf->pages);
	free(pf->over);
	close(pf->idfd);
	close(pf->fd);
	free(pf);
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

/* --- blobs -------------------------------------------------------------- */

/*
 * The header of the blob at ref: its length and room, both within the
 * file. 0, or -1 for a reference that names no blob, or a failed read.
 */
static int
blob_header(const struct pagefile *pf, uint64_t ref, uint32_t hdr[2])
{
	if (ref > pf->size || pf->size - ref < PF_HDR ||
	    read_all(pf->fd, hdr, PF_HDR, ref) == -1 ||
	    hdr[0] > hdr[1] || hdr[1] > pf->size - ref - PF_HDR)
		return -1;
	return 0;
}

/* The header hdr and the blob behind it at off: 0, or -1. */
static int
blob_write(const struct pagefile *pf, uint64_t off, const uint32_t hdr[2],
    const void *blob)
{
	return write_all(pf->fd, hdr, PF_HDR, off) == -1 ||
	    write_all(pf->fd, blob, hdr[0], off + PF_HDR) == -1 ? -1 : 0;
}

static int
pf_put(void *arg, uint64_t *ref, const void *blob, size_t len)
{
	struct pagefile *pf = arg;
	uint32_t hdr[2];
	uint64_t off;

	if (len > UINT32_MAX / 2)
		return -1;
	if (*ref != SETTLE_PAGE_NONE) {
		if (blob_header(pf, *ref, hdr) == -1)
			return -1;
		if (len <= hdr[1]) {
			hdr[0] = (uint32_t)len;
			return blob_write(pf, *ref, hdr, blob);
		}
	}
	/* Room for some growth: a year read back mostly grows a little. */
	off = pf->size;
	hdr[0] = (uint32_t)len;
	hdr[1] = (uint32_t)(len + len / 4);
	if (blob_write(pf, off, hdr, blob) == -1)
		return -1;
	pf->size += PF_HDR + hdr[1];
	if (*ref == SETTLE_PAGE_NONE)
		pf->count++;
	*ref = off;
	return 0;
}

static int
pf_get(void *arg, uint64_t ref, void **blob, size_t *len)
{
	struct pagefile *pf = arg;
	uint32_t hdr[2];
	void *buf;

	if (blob_header(pf, ref, hdr) == -1 ||
	    (buf = malloc(hdr[0] ? hdr[0] : 1)) == NULL)
		return -1;
	if (read_all(pf->fd, buf, hdr[0], ref + PF_HDR) == -1) {
		free(buf);
		return -1;
	}
	*blob = buf;
	*len = hdr[0];
	return 0;
}

/* --- report ids --------------------------------------------------------- */

static size_t
dir_index(const struct pagefile *pf, uint64_t h)
{
	return pf->depth == 0 ? 0 : (size_t)(h >> (64 - pf->depth));
}

/*
 * The filter's three bits for a slot: from hash bits 14 to 43, which a
 * slot keeps and the directory (the top bits) does not use up.
 */
static void
filter_bits(uint64_t slot, unsigned bit[3])
{
	for (int i = 0; i < 3; i++)
		bit[i] = (unsigned)(slot >> (14 + 10 * i)) & (ID_FILTER * 64 - 1);
}

static void
filter_add(struct idpage *p, uint64_t slot)
{
	unsigned bit[3];

	filter_bits(slot, bit);
	for (int i = 0; i < 3; i++)
		p->filter[bit[i] / 64] |= 1ULL << (bit[i] % 64);
}

static int
filter_has(const struct idpage *p, uint64_t slot)
{
	unsigned bit[3];

	filter_bits(slot, bit);
	for (int i = 0; i < 3; i++)
		if (!(p->filter[bit[i] / 64] >> (bit[i] % 64) & 1))
			return 0;
	return 1;
}

/* A new empty page of local depth d: its number, or -1 out of memory. */
static int64_t
page_new(struct pagefile *pf, unsigned d)
{
	if (pf->npages == pf->cappages) {
		uint32_t ncap = pf->cappages + pf->cappages / 2 + 16;
		struct idpage *nv = realloc(pf->pages, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		pf->pages = nv;
		pf->cappages = ncap;
	}
	memset(&pf->pages[pf->npages], 0, sizeof(pf->pages[0]));
	pf->pages[pf->npages].depth = (uint8_t)d;
	return pf->npages++;
}

/*
 * Splits full page pg, which slot h belongs to, on the next bit of the
 * hash, doubling the directory first when pg is as deep as it: 0; 1 when
 * the new page could not be written (nothing changed but the directory's
 * size); -1 when out of memory or the index cannot be read, or with
 * ids_broken set when rewriting pg failed.
 */
static int
page_split(struct pagefile *pf, uint32_t pg, uint64_t h)
{
	uint64_t buf[ID_SLOTS], lo[ID_SLOTS], hi[ID_SLOTS] = { 0 };
	unsigned ld = pf->pages[pg].depth;
	size_t nlo = 0, nhi = 0, first, span;
	int64_t np;

	if (ld >= ID_MAXDEPTH)
		return -1;	/* 256 ids alike in 50 bits: never by chance */
	if (ld == pf->depth) {
		size_t n = (size_t)1 << pf->depth;
		uint32_t *nd = malloc(2 * n * sizeof(*nd));

		if (nd == NULL)
			return -1;
		for (size_t i = 0; i < n; i++)
			nd[2 * i] = nd[2 * i + 1] = pf->dir[i];
		free(pf->dir);
		pf->dir = nd;
		pf->depth++;
	}
	if ((np = page_new(pf, ld + 1)) == -1)
		return -1;
	if (read_all(pf->idfd, buf, pf->pages[pg].count * 8ULL,
	    (uint64_t)pg * ID_PAGE) == -1) {
		pf->npages--;
		return -1;
	}
	for (size_t i = 0; i < pf->pages[pg].count; i++) {
		if (buf[i] >> (63 - ld) & 1)
			hi[nhi++] = buf[i];
		else
			lo[nlo++] = buf[i];
	}
	/* The new page whole (see the top); then pg, in place. */
	if (write_all(pf->idfd, hi, ID_PAGE, (uint64_t)np * ID_PAGE) == -1) {
		pf->npages--;
		return 1;
	}
	if (write_all(pf->idfd, lo, nlo * 8, (uint64_t)pg * ID_PAGE) == -1) {
		pf->ids_broken = 1;
		return -1;
	}
	memset(pf->pages[pg].filter, 0, sizeof(pf->pages[pg].filter));
	for (size_t i = 0; i < nlo; i++)
		filter_add(&pf->pages[pg], lo[i]);
	for (size_t i = 0; i < nhi; i++)
		filter_add(&pf->pages[np], hi[i]);
	pf->pages[pg].count = (uint16_t)nlo;
	pf->pages[np].count = (uint16_t)nhi;
	pf->pages[pg].depth = (uint8_t)(ld + 1);
	/* The directory's entries for pg: the upper half now goes to np. */
	span = (size_t)1 << (pf->depth - ld);
	first = dir_index(pf, h) & ~(span - 1);
	for (size_t i = first + span / 2; i < first + span; i++)
		pf->dir[i] = (uint32_t)np;
	return 0;
}

/* A slot the file could not take, kept in memory: 0, or -1. */
static int
overflow_add(struct pagefile *pf, uint64_t slot)
{
	if (pf->nover == pf->capover) {
		size_t ncap = pf->capover * 2 + 16;
		uint64_t *nv = realloc(pf->over, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		pf->over = nv;
		pf->capover = ncap;
	}
	pf->over[pf->nover++] = slot;
	pf->nids++;
	return 0;
}

static int
pf_ids_add(void *arg, uint64_t h, int32_t y)
{
	static const uint64_t zero[ID_SLOTS];
	struct pagefile *pf = arg;
	uint64_t slot = (h & ~ID_YEAR) | ((uint64_t)y & ID_YEAR);
	int rc;

	if (pf->ids_broken || y < 0 || (uint64_t)y > ID_YEAR)
		return -1;
	if (pf->npages == 0) {
		if (pf->dir == NULL &&
		    (pf->dir = calloc(1, sizeof(*pf->dir))) == NULL)
			return -1;
		if (write_all(pf->idfd, zero, ID_PAGE, 0) == -1)
			return overflow_add(pf, slot);
		if (page_new(pf, 0) == -1)
			return -1;
	}
	for (;;) {
		uint32_t pg = pf->dir[dir_index(pf, h)];

		struct idpage *p = &pf->pages[pg];

		if (p->count < ID_SLOTS) {
			if (write_all(pf->idfd, &slot, 8, (uint64_t)pg * ID_PAGE +
			    p->count * 8ULL) == -1)
				return overflow_add(pf, slot);
			filter_add(p, slot);
			p->count++;
			pf->nids++;
			return 0;
		}
		if ((rc = page_split(pf, pg, h)) != 0)
			return rc == 1 ? overflow_add(pf, slot) : -1;
	}
}

static int
pf_ids_find(void *arg, uint64_t h, int (*fn)(void *, int32_t), void *fnarg)
{
	struct pagefile *pf = arg;
	uint64_t buf[ID_SLOTS];
	uint32_t pg;
	int rc;

	if (pf->ids_broken)
		return -1;
	for (size_t i = 0; i < pf->nover; i++)
		if (((pf->over[i] ^ h) & ~ID_YEAR) == 0 &&
		    (rc = fn(fnarg, (int32_t)(pf->over[i] & ID_YEAR))) != 0)
			return rc;
	if (pf->npages == 0)
		return 0;
	pg = pf->dir[dir_index(pf, h)];
	if (!filter_has(&pf->pages[pg], h))
		return 0;
	if (read_all(pf->idfd, buf, pf->pages[pg].count * 8ULL,
	    (uint64_t)pg * ID_PAGE) == -1)
		return -1;
	for (size_t i = 0; i < pf->pages[pg].count; i++)
		if (((buf[i] ^ h) & ~ID_YEAR) == 0 &&
		    (rc = fn(fnarg, (int32_t)(buf[i] & ID_YEAR))) != 0)
			return rc;
	return 0;
}

void
pagefile_pager(struct pagefile *pf, unsigned flags, struct settle_pager *pg)
{
	memset(pg, 0, sizeof(*pg));
	pg->put = pf_put;
	pg->get = pf_get;
	pg->ids_add = pf_ids_add;
	pg->ids_find = pf_ids_find;
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

size_t
pagefile_ids(const struct pagefile *pf, size_t *in_memory)
{
	if (in_memory != NULL)
		*in_memory = pf->nover;
	return pf->nids;
}
