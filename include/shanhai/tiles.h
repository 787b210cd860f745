/*
 * tiles: the ledger published as C2SP tlog-tiles in a folder (SPEC 6.5), a
 * static mirror that any web server can serve: `checkpoint`, hash tiles
 * `tile/<L>/<N>[.p/<W>]` and entry bundles `tile/entries/<N>[.p/<W>]`
 * (each entry a big-endian uint16 length and its canonical bytes).
 *
 * Every tile and bundle is immutable: written to a temporary file, synced,
 * renamed into place and its folder synced; one already there must hold
 * exactly the same bytes, or publishing stops (a mirror is never rewritten
 * with other bytes). `checkpoint` is replaced last, once everything it
 * needs is on disk.
 *
 * Errors: -1 with the reason, naming the file, in err.
 */
#ifndef SHANHAI_TILES_H
#define SHANHAI_TILES_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* Hashes (and entries) in a full tile or bundle. */
#define TILES_WIDTH		256
/* Longest entry an entry bundle holds: its length is a uint16. */
#define TILES_MAX_ENTRY		65535
/*
 * Longest report body taken while tiles are published: a report entry is
 * the report's canonical JSON (never longer than the body) in an envelope
 * of at most 256 bytes (report hash, submitter, time, type), so it fits.
 */
#define TILES_MAX_REPORT	(TILES_MAX_ENTRY - 256)
/* Level of entry bundles in tiles_path(). */
#define TILES_ENTRIES		(-1)
/* Longest relative path tiles_path() writes, with its NUL. */
#define TILES_PATH_BUFSZ	128

/*
 * The path of tile n of level (0..63, or TILES_ENTRIES) of width `width`
 * (TILES_WIDTH for a full one, 1..255 for a partial one), relative to the
 * folder: "tile/0/x001/x234/067.p/5". 0, or -1 for arguments out of range.
 */
int	tiles_path(char buf[TILES_PATH_BUFSZ], int level, uint64_t n,
	    unsigned width);

/*
 * Writes data as the immutable file dir/rel (folders made as needed); an
 * existing file with the same bytes is left as it is.
 */
int	tiles_put(const char *dir, const char *rel, const void *data,
	    size_t len, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * Publishes the ledger in store s from the published size `from` (0 when
 * nothing is) to the signed checkpoint `note` of size `size`: every full
 * tile and bundle completed between them, the partial ones of `size`,
 * then `checkpoint` (unless note is NULL: with witnesses, `checkpoint` is
 * the witnessed one, written apart). A tile or bundle that exists must have the same
 * bytes. An entry longer than TILES_MAX_ENTRY stops it.
 */
int	tiles_publish(struct store *s, const char *dir, uint64_t from,
	    uint64_t size, const char *note, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/*
 * Deletes the partial tiles and bundles (`.p/W`) of every tile that is
 * full at `size`, the size of the checkpoint published in dir, and was
 * not at `from` (the size of the previous call; 0 scans every tile).
 * tlog-tiles lets a log delete a partial tile once its full tile is
 * available; a client holding an older checkpoint falls back to it. A
 * partial that `size` itself needs (of its rightmost tiles) is never one
 * of them, and neither is a narrower partial of a tile not yet full: an
 * older checkpoint still needs it, and no full tile stands in for it.
 * Called only after `checkpoint` of that size is in place, since the
 * previous checkpoint may need the partials of the tiles it completes.
 * Deletions are not synced: one undone by a crash is only a file more.
 * The count of files deleted in *deleted (may be NULL).
 */
int	tiles_prune(const char *dir, uint64_t from, uint64_t size,
	    uint64_t *deleted, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/* Replaces dir/checkpoint atomically with note. */
int	tiles_put_checkpoint(const char *dir, const char *note, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/*
 * The size of the checkpoint published in dir (its second line; the
 * signature is not checked here), and a malloc'd copy of it when note is
 * not NULL. 0; 1 when there is no checkpoint yet (*size 0); -1 (err).
 */
int	tiles_published(const char *dir, uint64_t *size, char **note,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
