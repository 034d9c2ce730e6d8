/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curve-key.h"
#include "macro.h"
#include "string-util.h"

/* A key file is a few lines; anything much larger is not one. */
#define KEY_FILE_MAX 4096

static const char z85_alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";

bool rd_curve_key_is_z85(const char *s, size_t n)
{
        if (!s || n != RD_CURVE_KEY_Z85_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '\0' || !strchr(z85_alphabet, s[i]))
                        return false;
        return true;
}

/* "public-key = Z85" or "secret-key = Z85": the value, or NULL when `line` is not such a line. */
static char *keyword_value(char *line, const char *keyword)
{
        size_t n = strlen(keyword);
        char *p;

        if (strncmp(line, keyword, n) != 0)
                return NULL;
        p = line + n;
        while (*p == ' ' || *p == '\t')
                p++;
        if (*p != '=')
                return NULL;
        return rd_strip(p + 1);
}

static int set_once(char *dst, const char *z85)
{
        if (!rd_curve_key_is_z85(z85, strlen(z85)) || dst[0])
                return -EINVAL;
        memcpy(dst, z85, RD_CURVE_KEY_Z85_LEN + 1);
        return 0;
}

int rd_curve_key_read(const char *path, rd_curve_key *ret)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        rd_curve_key key = {};
        size_t size = 0;
        char *line, *next;
        ssize_t n;

        assert_return(path && ret, -EINVAL);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf = malloc(KEY_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        while (size <= KEY_FILE_MAX) {
                n = read(fd, buf + size, KEY_FILE_MAX + 1 - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        if (size > KEY_FILE_MAX || memchr(buf, '\0', size))
                return -EINVAL;
        buf[size] = '\0';

        for (line = buf; line; line = next) {
                char *value;
                int k = 0;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                line = rd_strip(line);
                /* A bare key first: '#' is a Z85 character, so a key may start with it. */
                if (rd_curve_key_is_z85(line, strlen(line)))
                        k = set_once(key.public_key, line);
                else if ((value = keyword_value(line, "public-key")))
                        k = set_once(key.public_key, value);
                else if ((value = keyword_value(line, "secret-key")))
                        k = set_once(key.secret_key, value);
                else if (line[0] != '\0' && line[0] != '#')
                        k = -EINVAL;
                if (k < 0)
                        return k;
        }
        if (!key.public_key[0] && !key.secret_key[0])
                return -EINVAL;
        *ret = key;
        return 0;
}

static int write_file(const char *path, mode_t mode, const char *text)
{
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(text), done = 0;
        int k = 0;

        /* O_EXCL: a key is never overwritten. The umask can only take permissions away. */
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        while (done < n && k == 0) {
                ssize_t w = write(fd, text + done, n - done);
                if (w >= 0)
                        done += (size_t)w;
                else if (errno != EINTR)
                        k = -errno;
        }
        if (k == 0 && fsync(fd) < 0)
                k = -errno;
        if (k < 0)
                (void)unlink(path);
        return k;
}

int rd_curve_key_write(const char *name, const rd_curve_key *key)
{
        _cleanup_free_ char *key_path = NULL, *pub_path = NULL, *key_text = NULL, *pub_text = NULL;
        int k;

        assert_return(name && *name && key, -EINVAL);
        assert_return(rd_curve_key_is_z85(key->public_key, strlen(key->public_key)), -EINVAL);
        assert_return(rd_curve_key_is_z85(key->secret_key, strlen(key->secret_key)), -EINVAL);

        if (asprintf(&key_path, "%s.key", name) < 0 || asprintf(&pub_path, "%s.pub", name) < 0)
                return -ENOMEM;
        if (asprintf(&key_text,
                     "# reactord CURVE key pair. Keep this file secret: it proves who you are.\n"
                     "# Its public half alone is in the .pub file beside it.\n"
                     "public-key = %s\n"
                     "secret-key = %s\n",
                     key->public_key, key->secret_key) < 0 ||
            asprintf(&pub_text, "%s\n", key->public_key) < 0)
                return -ENOMEM;

        /* Refuse before writing anything if the public half is already there. */
        if (access(pub_path, F_OK) == 0)
                return -EEXIST;
        k = write_file(key_path, 0600, key_text);
        if (k < 0)
                return k;
        k = write_file(pub_path, 0644, pub_text);
        if (k < 0) {
                (void)unlink(key_path);
                return k;
        }
        return 0;
}
