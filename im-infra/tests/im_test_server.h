/* im_test_server.h — start a real server (redis-server, mariadbd, etcd) for a unit test
 * of the module that talks to it: a free port, fork/exec, wait until the port accepts,
 * kill at the end. A temporary folder holds its data. */
#ifndef IM_TEST_SERVER_H
#define IM_TEST_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline int im_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static inline int im_test_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* Starts argv[0] with output to log; waits up to timeout_s for port. Returns the pid or -1. */
static inline pid_t im_test_spawn(char *const argv[], const char *log, int port, int timeout_s)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        (void)f;
        dup2(STDOUT_FILENO, STDERR_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < timeout_s * 20; i++) {
        if (im_test_port_open(port)) return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid) break;
        usleep(50000);
    }
    fprintf(stderr, "could not start %s (see %s)\n", argv[0], log);
    kill(pid, SIGKILL);
    return -1;
}

static inline void im_test_kill(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static inline char *im_test_tmpdir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/cim-unit-XXXXXX");
    return mkdtemp(dir);
}

static inline void im_test_rmdir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#endif
