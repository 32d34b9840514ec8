/* The sandbox ("pause") container of a pod: holds the pod's namespaces and does nothing else.
 * Sleeps until SIGTERM or SIGINT, then exits 0. As PID 1 of a pod that shares its PID namespace it also reaps
 * orphaned children, so they never pile up as zombies. Built with gcc -static by images/build.sh. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal) { (void)signal; _exit(0); }

static void reap(int signal)
{
    (void)signal;
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

int main(void)
{
    struct sigaction on_stop = { .sa_handler = stop }, on_child = { .sa_handler = reap, .sa_flags = SA_NOCLDSTOP };
    if (sigaction(SIGTERM, &on_stop, NULL) < 0 || sigaction(SIGINT, &on_stop, NULL) < 0 || sigaction(SIGCHLD, &on_child, NULL) < 0)
        return 1;
    for (;;) pause();
}
