/*
 * tiles: the tlog-tiles layout, written once and never rewritten.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shanhai/errbuf.h"
#include "shanhai/merkle.h"
#include "shanhai/store.h"
#include "shanhai/tiles.h"

#define HASH	MERKLE_HASH_SIZE

int
tiles_path(char buf[TILES_PATH_BUFSZ], int level, uint64_t n,
    unsigned width)
{
	char digits[32], *p = buf;
	size_t nd, groups;
	int len;

	if (level < TILES_ENTRIES || level > 63 || width == 0 ||
	    width > TILES_WIDTH)
		return -1;
	if (level == TILES_ENTRIES)
		p += sprintf(p, "tile/entries/");
	else
		p += sprintf(p, "tile/%d/", level);
	/* Zero-padded groups of three digits, all but the last "x"-led. */
	len = snprintf(digits, sizeof(digits), "%" PRIu64, n);
	nd = (size_t)len;
	groups = (nd + 2) / 3;
	for (size_t g = 0; g < groups; g++) {
		size_t end = nd - 3 * (groups - 1 - g);
		size_t start = end >= 3 ? end - 3 : 0;
		if (g + 1 < groups)
			*p++ = 'x';
		for (size_t k = 3 - (end - start); k > 0; k--)
			*p++ = '0';
		memcpy(p, digits + start, end - start);
		p += end - start;
		if (g + 1 < groups)
			*p++ = '/';
	}
	if (width < TILES_WIDTH)
		p += sprintf(p, ".p/%u", width);
	*p = '\0';
	return 0;
}

/* mkdir -p of the folders of path (not path itself). */
static int
make_parents(char *path, char *err, size_t errlen)
{
	for (char *s = strchr(path + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			seterr(err, errlen, "%s: %s", path, strerror(errno));
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return 0;
}

static int
sync_dir_of(const char *path)
{
	char *d = strdup(path), *slash;
	int fd, rc = -1;

	if (d == NULL)
		return -1;
	if ((slash = strrchr(d, '/')) != NULL)
		*slash = '\0';
	if ((fd = open(slash != NULL ? d : ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		rc = fsync(fd);
		close(fd);
	}
	free(d);
	return rc;
}

/* Does path hold exactly data? 1 yes, 0 other bytes, -1 cannot read. */
static int
same_bytes(const char *path, const void *data, size_t len)
{
	unsigned char buf[8192];
	size_t off = 0;
	ssize_t n;
	int fd, same = 1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (same && (n = read(fd, buf, sizeof(buf))) > 0) {
		if (off + (size_t)n > len ||
		    memcmp(buf, (const unsigned char *)data + off, (size_t)n) != 0)
			same = 0;
		off += (size_t)n;
	}
	close(fd);
	return same && off == len;
}

/*
 * The folders whose renames are not yet synced: tiles_publish() syncs each
 * once, before the checkpoint that needs them, rather than once a file.
 */
#define MAX_DIRTY	32
struct dirty {
	char	*dir[MAX_DIRTY];
	size_t	 n;
	/*
	 * Written, not yet synced nor renamed: a publication syncs the file
	 * system once (syncfs) for all of them instead of once a file, then
	 * renames them.
	 */
	char	**tmp, **path;
	size_t	 npend, cappend;
	int	 fsfd;		/* a descriptor on the tiles' file system */
};

static int
dirty_add(struct dirty *d, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash != NULL ? (size_t)(slash - path) : 0;

	for (size_t i = 0; i < d->n; i++)
		if (strlen(d->dir[i]) == len && strncmp(d->dir[i], path, len) == 0)
			return 0;
	if (d->n == MAX_DIRTY)
		return -1;	/* the caller syncs this one at once */
	if ((d->dir[d->n] = strndup(path, len)) == NULL)
		return -1;
	d->n++;
	return 0;
}

/* Syncs and forgets every dirty folder: 0, or -1 with errno. */
static int
dirty_sync(struct dirty *d)
{
	int rc = 0;

	for (size_t i = 0; i < d->n; i++) {
		int fd = open(d->dir[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1 || fsync(fd) == -1)
			rc = -1;
		if (fd != -1)
			close(fd);
		free(d->dir[i]);
	}
	d->n = 0;
	return rc;
}

/* Remembers tmp (taken) to become path once synced; -1 out of memory. */
static int
pending_add(struct dirty *d, char *tmp, const char *path)
{
	char *p;

	if (d->npend == d->cappend) {
		size_t cap = d->cappend ? 2 * d->cappend : 64;
		char **a = reallocarray(d->tmp, cap, sizeof(*a));
		char **b = a ? reallocarray(d->path, cap, sizeof(*b)) : NULL;
		if (a != NULL)
			d->tmp = a;
		if (b == NULL)
			return -1;
		d->path = b;
		d->cappend = cap;
	}
	if ((p = strdup(path)) == NULL)
		return -1;
	d->tmp[d->npend] = tmp;
	d->path[d->npend++] = p;
	return 0;
}

/* Drops what is pending: the temporary files go. */
static void
pending_drop(struct dirty *d)
{
	for (size_t i = 0; i < d->npend; i++) {
		unlink(d->tmp[i]);
		free(d->tmp[i]);
		free(d->path[i]);
	}
	d->npend = 0;
}

/*
 * Syncs every pending file with one syncfs(), then renames each into
 * place (their folders to be synced by dirty_sync()). 0, or -1 (err).
 */
static int
pending_commit(struct dirty *d, char *err, size_t errlen)
{
	if (d->npend == 0)
		return 0;
	if (syncfs(d->fsfd) == -1) {
		seterr(err, errlen, "syncfs: %s", strerror(errno));
		pending_drop(d);
		return -1;
	}
	for (size_t i = 0; i < d->npend; i++) {
		if (rename(d->tmp[i], d->path[i]) == -1) {
			seterr(err, errlen, "%s: %s", d->path[i],
			    strerror(errno));
			pending_drop(d);
			return -1;
		}
		if (dirty_add(d, d->path[i]) < 0 && sync_dir_of(d->path[i]) ==
		    -1) {
			seterr(err, errlen, "%s: %s", d->path[i],
			    strerror(errno));
			pending_drop(d);	/* the rest stay unwritten */
			return -1;
		}
		free(d->tmp[i]);
		free(d->path[i]);
		d->tmp[i] = d->path[i] = NULL;
	}
	d->npend = 0;
	return 0;
}

/*
 * Writes path atomically: temporary file, fsync, rename, and the folder
 * synced now; or, with d (a publication), the temporary file only, synced
 * and renamed by pending_commit().
 */
static int
write_atomic(const char *path, const void *data, size_t len,
    struct dirty *d, char *err, size_t errlen)
{
	char *tmp;
	int fd;

	static unsigned long seq;	/* two threads may write one tile */
	unsigned long k = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);

	if (asprintf(&tmp, "%s.tmp.%ld.%lu", path, (long)getpid(), k) == -1) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		goto fail;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			goto fail;
		}
		off += (size_t)n;
	}
	if (d != NULL && d->fsfd != -1) {
		if (close(fd) == -1)
			goto fail;
		if (pending_add(d, tmp, path) < 0) {
			errno = ENOMEM;
			goto fail;	/* tmp is still ours */
		}
		return 0;
	}
	if (fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1 ||
	    ((d == NULL || dirty_add(d, path) < 0) && sync_dir_of(path) == -1))
		goto fail;
	free(tmp);
	return 0;
fail:
	seterr(err, errlen, "%s: %s", path, strerror(errno));
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	return -1;
}

static int
put(const char *dir, const char *rel, const void *data, size_t len,
    struct dirty *d, char *err, size_t errlen)
{
	char *path;
	int rc = -1;

	if (asprintf(&path, "%s/%s", dir, rel) == -1) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	switch (same_bytes(path, data, len)) {
	case 1:
		rc = 0;		/* written before: the same bytes */
		break;
	case 0:
		seterr(err, errlen, "%s exists with other bytes: the mirror "
		    "holds another ledger (a tile is never rewritten)", path);
		break;
	default:
		if (errno != ENOENT) {
			seterr(err, errlen, "%s: %s", path, strerror(errno));
			break;
		}
		if (make_parents(path, err, errlen) == 0)
			rc = write_atomic(path, data, len, d, err, errlen);
	}
	free(path);
	return rc;
}

int
tiles_put(const char *dir, const char *rel, const void *data, size_t len,
    char *err, size_t errlen)
{
	return put(dir, rel, data, len, NULL, err, errlen);
}

/* Level-0 tiles and bundles are made from one walk over the entries. */
struct walk {
	unsigned char	*hashes;	/* TILES_WIDTH hashes */
	unsigned char	*bundle;	/* TILES_WIDTH * (2 + TILES_MAX_ENTRY) */
	size_t		 nh, blen;
	struct dirty	 dirty;
	char		*err;
	size_t		 errlen;
};

static int
walk_entry(void *ctx, uint64_t index, const char *body, size_t len,
    const unsigned char leaf[STORE_HASH_SIZE])
{
	struct walk *w = ctx;

	if (len > TILES_MAX_ENTRY) {
		seterr(w->err, w->errlen, "entry %" PRIu64 " is %zu bytes, "
		    "longer than the %d an entry bundle holds", index, len,
		    TILES_MAX_ENTRY);
		return -1;
	}
	memcpy(w->hashes + HASH * w->nh++, leaf, HASH);
	w->bundle[w->blen++] = (unsigned char)(len >> 8);
	w->bundle[w->blen++] = (unsigned char)len;
	memcpy(w->bundle + w->blen, body, len);
	w->blen += len;
	return 0;
}

/* Tile n of level 0, width w, and its entry bundle. */
static int
put_level0(struct store *s, const char *dir, uint64_t n, unsigned width,
    struct walk *w)
{
	char rel[TILES_PATH_BUFSZ];
	uint64_t start = n * TILES_WIDTH;

	w->nh = w->blen = 0;
	w->err[0] = '\0';
	if (store_foreach(s, start, start + width, walk_entry, w) != 0) {
		if (w->err[0] == '\0')	/* the store failed, not an entry */
			seterr(w->err, w->errlen, "reading entries %" PRIu64
			    "..: %s", start, store_errmsg(s));
		return -1;
	}
	if (w->nh != width) {
		seterr(w->err, w->errlen, "entries %" PRIu64 "..%" PRIu64
		    ": only %zu in the store", start, start + width - 1, w->nh);
		return -1;
	}
	if (tiles_path(rel, TILES_ENTRIES, n, width) < 0 ||
	    put(dir, rel, w->bundle, w->blen, &w->dirty, w->err, w->errlen) < 0)
		return -1;
	if (tiles_path(rel, 0, n, width) < 0 ||
	    put(dir, rel, w->hashes, HASH * width, &w->dirty, w->err,
	    w->errlen) < 0)
		return -1;
	return 0;
}

/* Tile n of level l >= 1: hashes of subtrees of 256^l leaves. */
static int
put_level(struct store *s, const char *dir, int l, uint64_t n,
    unsigned width, unsigned char *buf, struct dirty *d, char *err,
    size_t errlen)
{
	char rel[TILES_PATH_BUFSZ];

	for (unsigned i = 0; i < width; i++)
		if (store_get_hash(s, 8 * (unsigned)l, n * TILES_WIDTH + i,
		    buf + HASH * i) != 0) {
			seterr(err, errlen, "the hash (level %d, index %" PRIu64
			    ") is not in the store: %s", 8 * l,
			    n * TILES_WIDTH + i, store_errmsg(s));
			return -1;
		}
	if (tiles_path(rel, l, n, width) < 0)
		return -1;
	return put(dir, rel, buf, HASH * width, d, err, errlen);
}

int
tiles_publish(struct store *s, const char *dir, uint64_t from, uint64_t size,
    const char *note, char *err, size_t errlen)
{
	struct walk w;
	int rc = -1;

	memset(&w, 0, sizeof(w));
	w.err = err;
	w.errlen = errlen;
	w.dirty.fsfd = -1;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (from > size) {
		seterr(err, errlen, "%s/checkpoint is of size %" PRIu64 ", "
		    "above the ledger's %" PRIu64, dir, from, size);
		return -1;
	}
	if ((w.hashes = malloc(HASH * TILES_WIDTH)) == NULL ||
	    (w.bundle = malloc((size_t)TILES_WIDTH * (2 + TILES_MAX_ENTRY))) ==
	    NULL) {
		seterr(err, errlen, "out of memory");
		goto done;
	}
	/* Made if missing: syncfs() needs a descriptor on its file system. */
	if ((mkdir(dir, 0755) == -1 && errno != EEXIST) ||
	    (w.dirty.fsfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		seterr(err, errlen, "%s: %s", dir, strerror(errno));
		goto done;
	}
	/* Level l holds floor(size / 256^l) hashes; its tiles 256 each. */
	for (int l = 0; l < 8; l++) {
		uint64_t unit = (uint64_t)1 << (8 * l);
		uint64_t have = size / unit, had = from / unit;
		uint64_t full = have / TILES_WIDTH;
		unsigned part = (unsigned)(have % TILES_WIDTH);

		if (have == 0)
			break;
		for (uint64_t n = had / TILES_WIDTH; n < full; n++)
			if ((l == 0 ? put_level0(s, dir, n, TILES_WIDTH, &w) :
			    put_level(s, dir, l, n, TILES_WIDTH, w.hashes,
			    &w.dirty, err, errlen)) < 0)
				goto done;
		if (part > 0 && (l == 0 ? put_level0(s, dir, full, part, &w) :
		    put_level(s, dir, l, full, part, w.hashes, &w.dirty, err,
		    errlen)) < 0)
			goto done;
	}
	/* Every file and rename on disk before the checkpoint needs them. */
	if (pending_commit(&w.dirty, err, errlen) < 0)
		goto done;
	if (dirty_sync(&w.dirty) < 0) {
		seterr(err, errlen, "%s: syncing its folders: %s", dir,
		    strerror(errno));
		goto done;
	}
	/* Last: the checkpoint, which may be replaced (by a bigger one). */
	if (note == NULL)
		rc = 0;		/* the witnessed checkpoint is written apart */
	else {
		char *path;
		if (asprintf(&path, "%s/checkpoint", dir) == -1) {
			seterr(err, errlen, "out of memory");
			goto done;
		}
		rc = write_atomic(path, note, strlen(note), NULL, err, errlen);
		free(path);
	}
done:
	pending_drop(&w.dirty);
	free(w.dirty.tmp);
	free(w.dirty.path);
	if (w.dirty.fsfd != -1)
		close(w.dirty.fsfd);
	(void)dirty_sync(&w.dirty);
	free(w.hashes);
	free(w.bundle);
	return rc;
}

/* Deletes every file of the folder dir/rel.p and the folder. */
static int
prune_one(const char *dir, const char *rel, uint64_t *deleted, char *err,
    size_t errlen)
{
	char *path;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (asprintf(&path, "%s/%s.p", dir, rel) == -1) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if ((d = opendir(path)) == NULL) {
		if (errno != ENOENT) {
			seterr(err, errlen, "%s: %s", path, strerror(errno));
			rc = -1;
		}
		free(path);
		return rc;
	}
	/* The partials, and a temporary file a crash may have left. */
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == -1 && errno != ENOENT) {
			seterr(err, errlen, "%s/%s: %s", path, e->d_name,
			    strerror(errno));
			rc = -1;
		} else if (deleted != NULL)
			(*deleted)++;
	}
	closedir(d);
	if (rc == 0 && rmdir(path) == -1 && errno != ENOENT) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(path);
	return rc;
}

int
tiles_prune(const char *dir, uint64_t from, uint64_t size, uint64_t *deleted,
    char *err, size_t errlen)
{
	char rel[TILES_PATH_BUFSZ];

	if (deleted != NULL)
		*deleted = 0;
	if (from > size)
		from = 0;
	/* A tile of level l spans 256^(l+1) leaves; full once size has them. */
	for (int l = 0; l < 8; l++) {
		int shift = 8 * (l + 1);
		uint64_t n = shift < 64 ? from >> shift : 0;
		uint64_t end = shift < 64 ? size >> shift : 0;

		for (; n < end; n++) {
			if (tiles_path(rel, l, n, TILES_WIDTH) < 0 ||
			    prune_one(dir, rel, deleted, err, errlen) < 0)
				return -1;
			if (l == 0 && (tiles_path(rel, TILES_ENTRIES, n,
			    TILES_WIDTH) < 0 || prune_one(dir, rel, deleted,
			    err, errlen) < 0))
				return -1;
		}
	}
	return 0;
}

int
tiles_put_checkpoint(const char *dir, const char *note, char *err,
    size_t errlen)
{
	char *path;
	int rc;

	if (asprintf(&path, "%s/checkpoint", dir) == -1) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	rc = write_atomic(path, note, strlen(note), NULL, err, errlen);
	free(path);
	return rc;
}

int
tiles_published(const char *dir, uint64_t *size, char **note, char *err,
    size_t errlen)
{
	char *path, buf[4096], *nl, *end;
	ssize_t n;
	int fd;

	*size = 0;
	if (note != NULL)
		*note = NULL;
	if (asprintf(&path, "%s/checkpoint", dir) == -1) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		int e = errno;
		seterr(err, errlen, "%s: %s", path, strerror(e));
		free(path);
		return e == ENOENT ? 1 : -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		seterr(err, errlen, "%s: empty or unreadable", path);
		free(path);
		return -1;
	}
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) == NULL || nl[1] < '0' || nl[1] > '9' ||
	    (errno = 0, *size = strtoull(nl + 1, &end, 10), errno != 0) ||
	    *end != '\n') {
		seterr(err, errlen, "%s: not a checkpoint (no size line)", path);
		free(path);
		return -1;
	}
	free(path);
	if (note != NULL && (*note = strdup(buf)) == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
