/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "basic/endpoint.h"
#include "basic/log.h"
#include "endpoint.h"

/* Is something accepting connections on the socket file? */
static bool socket_is_live(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(sa.sun_path))
                return false;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

/*
 * The group that may reach a root reactord: RD_BUS_GROUP, when we run as root
 * and it exists. Returns 0 with its gid, or -ENOENT: the bus stays root's only.
 */
static int bus_group(gid_t *ret)
{
        struct group *gr;

        if (geteuid() != 0)
                return -ENOENT;
        /* getgrnam() sets errno inconsistently across NSS modules; NULL is "no group". */
        gr = getgrnam(RD_BUS_GROUP);
        if (!gr)
                return -ENOENT;
        *ret = gr->gr_gid;
        return 0;
}

static int make_parent(const char *path)
{
        _cleanup_free_ char *dir = strdup(path);
        _cleanup_close_ int fd = -EBADF;
        bool created = false;
        char *slash;
        gid_t gid;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        if (mkdir(dir, 0700) >= 0)
                created = true;
        else if (errno != EEXIST)
                return log_error_errno(-errno, "cannot create %s: %s", dir, strerror(errno));

        /*
         * A directory someone else made (/tmp, or reactord.socket's /run/reactord)
         * is never changed: only the one we just created is opened to the bus
         * group. The socket in it is 0660 (rd_endpoint_grant), so members may
         * connect and nobody else may.
         */
        if (!created || bus_group(&gid) < 0)
                return 0;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %s", dir, strerror(errno));
        if (fchown(fd, (uid_t)-1, gid) < 0 || fchmod(fd, 0750) < 0)
                return log_error_errno(-errno, "cannot give group %s access to %s: %s",
                                       RD_BUS_GROUP, dir, strerror(errno));
        return 0;
}

int rd_endpoint_claim(const char *endpoint)
{
        const char *path = rd_endpoint_ipc_path(endpoint);
        _cleanup_free_ char *lock_path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char pid[32] = "";
        int k;

        if (!path)
                return -EBADF;
        k = make_parent(path);
        if (k < 0)
                return k;
        if (asprintf(&lock_path, "%s.lock", path) < 0)
                return -ENOMEM;

        fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %s", lock_path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return log_error_errno(-errno, "cannot lock %s: %s", lock_path,
                                               strerror(errno));
                ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
                pid[n > 0 ? n : 0] = '\0';
                pid[strcspn(pid, "\n")] = '\0';
                log_error("%s is served by another reactord (pid %s); refusing to start", endpoint,
                          pid[0] ? pid : "unknown");
                return -EADDRINUSE;
        }
        /* The lock is ours, so no reactord serves the socket; but some other program might. */
        if (socket_is_live(path)) {
                log_error("%s is in use by another program; refusing to start", endpoint);
                return -EADDRINUSE;
        }
        if (unlink(path) == 0)
                log_notice("replaced the stale socket %s", path);
        else if (errno != ENOENT)
                return log_error_errno(-errno, "cannot remove stale socket %s: %s", path,
                                       strerror(errno));

        snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
                log_debug("cannot record our pid in %s: %s", lock_path, strerror(errno));
        return TAKE_FD(fd);
}

int rd_endpoint_grant(const char *endpoint)
{
        const char *path = rd_endpoint_ipc_path(endpoint);
        _cleanup_close_ int fd = -EBADF;
        char proc[64];
        struct stat st;
        gid_t gid;

        if (!path || path[0] == '@' || bus_group(&gid) < 0)
                return 0;
        /*
         * libzmq made the file with our umask. Whoever may write the directory could
         * swap it for a symlink to a file of their choosing, so the file is pinned
         * with O_PATH, checked to be a socket, and changed through that fd only. The
         * group comes first: the file is never open to more than 0660 root:group.
         */
        fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "cannot stat %s: %s", path, strerror(errno));
        if (!S_ISSOCK(st.st_mode))
                return log_error_errno(-ENOTSOCK, "%s is not a socket", path);
        /* fchmod() refuses O_PATH fds; chmod() through /proc reaches the pinned inode. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (fchownat(fd, "", (uid_t)-1, gid, AT_EMPTY_PATH) < 0 || chmod(proc, 0660) < 0)
                return log_error_errno(-errno, "cannot give group %s access to %s: %s",
                                       RD_BUS_GROUP, path, strerror(errno));
        log_info("members of group %s may connect to %s", RD_BUS_GROUP, endpoint);
        return 0;
}

void rd_endpoint_release(const char *endpoint, int lock_fd)
{
        const char *path = rd_endpoint_ipc_path(endpoint);

        /* libzmq leaves ipc socket files behind; we hold the lock, so the file is ours. */
        if (path && lock_fd >= 0)
                (void)unlink(path);
        if (lock_fd >= 0)
                close(lock_fd);
}
