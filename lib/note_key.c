/*
 * note_key: the ledger's and the witnesses' private keys in files: made by
 * `shanhai keygen`, read by shanhaid and `shanhai witness`. The key itself
 * is made and read by the note module from memory; this is the file around
 * it: mode 0600, never overwritten, synced, and refused when anyone but
 * its owner may read it. See include/shanhai/note.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "shanhai/note.h"

/* A key file is small; more than this is not one. */
#define KEYFILE_MAX	(64 * 1024)

int
note_key_load(const char *path, const char *name,
    struct note_signer **signer, char *err, size_t errlen)
{
	char buf[KEYFILE_MAX], msg[512];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, rc;

	*signer = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NOTE_ESYS;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NOTE_ESYS;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: private key is accessible by group or "
		    "others (mode %04o); run: chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return NOTE_ESYS;
	}
	while (len < sizeof(buf) && (n = read(fd, buf + len,
	    sizeof(buf) - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			OPENSSL_cleanse(buf, len);
			return NOTE_ESYS;
		}
		len += (size_t)n;
	}
	close(fd);
	rc = note_signer_from_pem(buf, len, name, signer, msg, sizeof(msg));
	OPENSSL_cleanse(buf, len);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, msg);
	return rc;
}

int
note_key_generate(const char *path, const char *name, int type,
    struct note_signer **signer, char *err, size_t errlen)
{
	char *pem = NULL;
	size_t len = 0, off = 0;
	int fd, rc;

	if ((rc = note_key_new(name, type, &pem, &len, signer, err,
	    errlen)) < 0)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (not overwriting a key)" : "");
		goto fail_open;
	}
	if (fchmod(fd, 0600) == -1)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, pem + off, len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	OPENSSL_cleanse(pem, len);
	free(pem);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(path);
fail_open:
	OPENSSL_cleanse(pem, len);
	free(pem);
	note_signer_free(*signer);
	*signer = NULL;
	return NOTE_ESYS;
}
